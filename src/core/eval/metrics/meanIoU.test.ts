import { DomainError } from "../../errors";
import { ConfusionMatrix } from "./ConfusionMatrix";
import { meanIoU } from "./meanIoU";

describe("ConfusionMatrix + meanIoU", () => {
  // label: 0 0 1 1 2 255 0      pred: 0 1 1 1 0 2 7 (7 is outside the 3 classes)
  // class 0: TP 1, GT 3 (px 0,1,6), pred 2 (px 0,4) → union 4 → IoU 1/4, acc 1/3
  // class 1: TP 2, GT 2, pred 3 (px 1,2,3)         → union 3 → IoU 2/3, acc 1
  // class 2: TP 0, GT 1, pred 0 (px 5 is ignored)  → union 1 → IoU 0,   acc 0
  // mIoU = (1/4 + 2/3 + 0)/3 = 11/36; aAcc = 3/6; mAcc = (1/3 + 1 + 0)/3 = 4/9
  const label = [0, 0, 1, 1, 2, 255, 0];
  const pred = [0, 1, 1, 1, 0, 2, 7];

  it.each([
    ["Uint8Array", (a: number[]) => Uint8Array.from(a)],
    ["Uint16Array", (a: number[]) => Uint16Array.from(a)],
    ["Int32Array", (a: number[]) => Int32Array.from(a)],
  ])("computes hand-worked IoU, aAcc and mAcc (%s)", (_name, make) => {
    const cm = new ConfusionMatrix(3, 255).add(make(pred), make(label));
    const r = meanIoU(cm);
    expect(r.perClass[0]).toBeCloseTo(1 / 4, 12);
    expect(r.perClass[1]).toBeCloseTo(2 / 3, 12);
    expect(r.perClass[2]).toBe(0);
    expect(r.mIoU).toBeCloseTo(11 / 36, 12);
    expect(r.aAcc).toBeCloseTo(1 / 2, 12);
    expect(r.mAcc).toBeCloseTo(4 / 9, 12);
    expect(r.pixels).toBe(6);
    expect(cm.get(0, 3)).toBe(1); // the out-of-range prediction, a miss for class 0
  });

  it("leaves classes with an empty union out of the mean", () => {
    // same data, 4 classes: class 3 never appears → null, mean over the other three
    const cm = new ConfusionMatrix(4, 255).add(Uint8Array.from(pred), Uint8Array.from(label));
    const r = meanIoU(cm);
    expect(r.perClass[3]).toBeNull();
    expect(r.perClassAcc[3]).toBeNull();
    expect(r.mIoU).toBeCloseTo(11 / 36, 12);
    expect(r.nClasses).toBe(3);
  });

  it("counts a predicted-only class as IoU 0 in the mean", () => {
    // label 0 0, pred 0 1: class 0 TP 1 GT 2 pred 1 → 1/2; class 1 TP 0, union 1 → 0; mean 1/4
    // mAcc only over classes with GT pixels: class 0 → 1/2
    const cm = new ConfusionMatrix(2, 255).add(Uint8Array.of(0, 1), Uint8Array.of(0, 0));
    const r = meanIoU(cm);
    expect(r.mIoU).toBeCloseTo(1 / 4, 12);
    expect(r.mAcc).toBeCloseTo(1 / 2, 12);
  });

  it("averages over a class subset (SYNTHIA 16/13 protocols)", () => {
    const cm = new ConfusionMatrix(3, 255).add(Uint8Array.from(pred), Uint8Array.from(label));
    const r = meanIoU(cm, { classes: [1, 2] });
    expect(r.mIoU).toBeCloseTo((2 / 3 + 0) / 2, 12); // 1/3
    expect(r.mAcc).toBeCloseTo((1 + 0) / 2, 12);
    expect(r.aAcc).toBeCloseTo(1 / 2, 12); // all counted pixels, subset or not
    expect(() => meanIoU(cm, { classes: [1, 3] })).toThrow(/class 3 is not in \[0, 3\)/);
    expect(() => meanIoU(cm, { classes: [1, 1] })).toThrow(/listed twice/);
  });

  it("gives nulls for an all-ignore split", () => {
    const cm = new ConfusionMatrix(3, 255).add(Uint8Array.of(0, 1, 2), Uint8Array.of(255, 255, 255));
    const r = meanIoU(cm);
    expect(r.mIoU).toBeNull();
    expect(r.aAcc).toBeNull();
    expect(r.mAcc).toBeNull();
    expect(r.perClass).toEqual([null, null, null]);
    expect(r.pixels).toBe(0);
  });

  it("merges matrices of parts into the matrix of the whole", () => {
    const a = new ConfusionMatrix(3, 255).add(Uint8Array.from(pred.slice(0, 3)), Uint8Array.from(label.slice(0, 3)));
    const b = new ConfusionMatrix(3, 255).add(Uint8Array.from(pred.slice(3)), Uint8Array.from(label.slice(3)));
    const whole = new ConfusionMatrix(3, 255).add(Uint8Array.from(pred), Uint8Array.from(label));
    expect(Array.from(a.merge(b).counts)).toEqual(Array.from(whole.counts));
    expect(Array.from(ConfusionMatrix.fromJSON(JSON.parse(JSON.stringify(whole))).counts)).toEqual(Array.from(whole.counts));
    expect(() => a.merge(new ConfusionMatrix(4, 255))).toThrow(DomainError);
  });

  it("honours the count argument", () => {
    const cm = new ConfusionMatrix(3, 255).add(Uint8Array.of(0, 1, 1), Uint8Array.of(0, 1, 2), 2);
    expect(meanIoU(cm).mIoU).toBe(1); // classes 0 and 1 perfect, class 2 never seen
  });

  it("rejects label values that are neither classes nor the ignore index, naming the file", () => {
    const cm = new ConfusionMatrix(3, 255);
    expect(() => cm.add(Uint8Array.of(0, 0), Uint8Array.of(0, 7), 2, "labels/a.png")).toThrow(/label value 7 at pixel 1 .* in labels\/a\.png/);
    expect(() => new ConfusionMatrix(3, 2)).toThrow(/collides with class 2/);
  });

  it("addPairs8 adds a (label, prediction) histogram as add adds the pixels it counts", () => {
    let seed = 11;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const C = 6;
    const N = 4000;
    const lab = Uint8Array.from({ length: N }, () => (rnd() < 0.1 ? 255 : Math.floor(rnd() * C)));
    // predictions out of range (6…9, 200) go to the extra column in both
    const prd = Uint8Array.from({ length: N }, () => (rnd() < 0.1 ? (rnd() < 0.5 ? 200 : C + Math.floor(rnd() * 4)) : Math.floor(rnd() * C)));
    const pairs = new Uint32Array(65536);
    for (let i = 0; i < N; i++) pairs[lab[i] * 256 + prd[i]]++;
    const expected = new ConfusionMatrix(C, 255).add(prd, lab);
    const got = new ConfusionMatrix(C, 255).addPairs8(pairs);
    expect(Array.from(got.counts)).toEqual(Array.from(expected.counts));
    expect(got.get(0, C) + got.get(1, C) + got.get(2, C) + got.get(3, C) + got.get(4, C) + got.get(5, C)).toBeGreaterThan(0);
  });

  it("addPairs8 rejects label values that are neither classes nor the ignore index, with their pixel count", () => {
    const pairs = new Uint32Array(65536);
    pairs[7 * 256 + 1] = 3;
    pairs[7 * 256 + 2] = 2;
    expect(() => new ConfusionMatrix(3, 255).addPairs8(pairs, "labels/a.png")).toThrow(/label value 7 \(5 px\) .* in labels\/a\.png/);
    // the ignore index is skipped, whatever it was predicted as
    pairs.fill(0);
    pairs[255 * 256 + 1] = 4;
    expect(Array.from(new ConfusionMatrix(3, 255).addPairs8(pairs).counts).every((v) => v === 0)).toBe(true);
  });

  it("agrees with an independent per-class count on random data", () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const C = 5;
    const N = 5000;
    const lab = new Uint8Array(N);
    const prd = new Uint8Array(N);
    for (let i = 0; i < N; i++) {
      lab[i] = rnd() < 0.1 ? 255 : Math.floor(rnd() * C);
      prd[i] = rnd() < 0.6 ? lab[i] % C : Math.floor(rnd() * C);
    }
    const r = meanIoU(new ConfusionMatrix(C, 255).add(prd, lab));
    // reference: for each class, count pixels by set membership (no matrix)
    let sum = 0;
    let n = 0;
    for (let c = 0; c < C; c++) {
      let inter = 0;
      let uni = 0;
      for (let i = 0; i < N; i++) {
        if (lab[i] === 255) continue;
        const inL = lab[i] === c;
        const inP = prd[i] === c;
        if (inL && inP) inter++;
        if (inL || inP) uni++;
      }
      expect(r.perClass[c]).toBeCloseTo(inter / uni, 12);
      sum += inter / uni;
      n++;
    }
    expect(r.mIoU).toBeCloseTo(sum / n, 12);
  });
});
