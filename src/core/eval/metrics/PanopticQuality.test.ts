import { PanopticQuality } from "./PanopticQuality";
import { panopticFromLabelMap } from "./panopticFromLabelMap";

const THING = 1;
const STUFF = 2;
const categories = [
  { id: THING, isThing: true },
  { id: STUFF, isThing: false },
];
const ids = (a: number[]) => Int32Array.from(a);

describe("PanopticQuality (panopticapi pq_compute rules)", () => {
  it("matches segments with IoU > 0.5 and averages all / things / stuff", () => {
    // gt:   seg 1 (thing) px 0-5, seg 2 (stuff) px 6-15
    // pred: seg 10 (thing) px 0-4 + px 6, seg 20 (stuff) px 5 + px 7-15
    // thing: inter 5, union 6 + 6 - 5 = 7 → IoU 5/7; stuff: inter 9, union 10 + 10 - 9 = 11 → 9/11
    const gt = ids([1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
    const pr = ids([10, 10, 10, 10, 10, 20, 10, 20, 20, 20, 20, 20, 20, 20, 20, 20]);
    const pq = new PanopticQuality(categories).addImage(
      { ids: gt, segments: [{ id: 1, categoryId: THING }, { id: 2, categoryId: STUFF }] },
      { ids: pr, segments: [{ id: 10, categoryId: THING }, { id: 20, categoryId: STUFF }] },
    );
    const r = pq.result();
    expect(r.things.pq).toBeCloseTo(5 / 7, 12);
    expect(r.stuff.pq).toBeCloseTo(9 / 11, 12);
    expect(r.all.pq).toBeCloseTo((5 / 7 + 9 / 11) / 2, 12);
    expect(r.all.sq).toBeCloseTo((5 / 7 + 9 / 11) / 2, 12);
    expect(r.all.rq).toBe(1);
    expect(r.all.n).toBe(2);
  });

  it("does not match a segment split in two halves (IoU exactly 0.5 is not > 0.5)", () => {
    // gt seg 1 px 0-7 (8 px), px 8-9 void; pred halves 3 (px 0-3) and 4 (px 4-7): each IoU 4/8
    // → TP 0, FN 1, FP 2 → PQ 0 / (0 + 1 + 0.5) = 0
    const r = new PanopticQuality(categories)
      .addImage(
        { ids: ids([1, 1, 1, 1, 1, 1, 1, 1, 0, 0]), segments: [{ id: 1, categoryId: THING }] },
        { ids: ids([3, 3, 3, 3, 4, 4, 4, 4, 0, 0]), segments: [{ id: 3, categoryId: THING }, { id: 4, categoryId: THING }] },
      )
      .result();
    expect(r.perClass[0]).toMatchObject({ tp: 0, fp: 2, fn: 1, pq: 0, sq: 0, rq: 0 });
    expect(r.all).toEqual({ pq: 0, sq: 0, rq: 0, n: 1 });
    expect(r.stuff.n).toBe(0);
  });

  it("matches the larger part of an uneven split and counts the rest as FP", () => {
    // pred 3 px 0-4 (5 px): IoU 5/8 → TP; pred 4 px 5-7 → FP
    // PQ = 0.625 / (1 + 0.5) = 5/12; SQ = 0.625; RQ = 1 / 1.5 = 2/3
    const r = new PanopticQuality(categories)
      .addImage(
        { ids: ids([1, 1, 1, 1, 1, 1, 1, 1]), segments: [{ id: 1, categoryId: THING }] },
        { ids: ids([3, 3, 3, 3, 3, 4, 4, 4]), segments: [{ id: 3, categoryId: THING }, { id: 4, categoryId: THING }] },
      )
      .result();
    expect(r.things.pq).toBeCloseTo(5 / 12, 12);
    expect(r.things.sq).toBeCloseTo(0.625, 12);
    expect(r.things.rq).toBeCloseTo(2 / 3, 12);
  });

  it("excludes predicted pixels on void from the union and forgives predictions mostly on void", () => {
    // gt: seg 1 (thing) px 0-3, void px 4-9
    // pred 5 (thing) px 0-5: inter 4, void∩pred 2 → union 6 + 4 - 4 - 2 = 4 → IoU 1
    // pred 6 (stuff) px 6-9 entirely on void → 4/4 > 0.5 → not a FP; stuff never counted
    const r = new PanopticQuality(categories)
      .addImage(
        { ids: ids([1, 1, 1, 1, 0, 0, 0, 0, 0, 0]), segments: [{ id: 1, categoryId: THING }] },
        { ids: ids([5, 5, 5, 5, 5, 5, 6, 6, 6, 6]), segments: [{ id: 5, categoryId: THING }, { id: 6, categoryId: STUFF }] },
      )
      .result();
    expect(r.perClass[0]).toMatchObject({ tp: 1, fp: 0, fn: 0, iou: 1 });
    expect(r.perClass[1]).toMatchObject({ tp: 0, fp: 0, fn: 0, pq: null });
    expect(r.all).toEqual({ pq: 1, sq: 1, rq: 1, n: 1 });
  });

  it("counts a prediction exactly half on void as a FP", () => {
    // gt: void px 0-1, seg 1 (thing) px 2-3; pred 7 (stuff) px 0-3: void share 2/4 = 0.5, not > 0.5
    // → stuff FP 1, thing FN 1 → both PQ 0
    const r = new PanopticQuality(categories)
      .addImage({ ids: ids([0, 0, 1, 1]), segments: [{ id: 1, categoryId: THING }] }, { ids: ids([7, 7, 7, 7]), segments: [{ id: 7, categoryId: STUFF }] })
      .result();
    expect(r.perClass[0]).toMatchObject({ fn: 1, fp: 0 });
    expect(r.perClass[1]).toMatchObject({ fn: 0, fp: 1 });
    expect(r.all).toEqual({ pq: 0, sq: 0, rq: 0, n: 2 });
  });

  it("never counts crowd regions as FN and forgives same-category predictions on them", () => {
    // gt: seg 1 (thing, crowd) px 0-5, seg 2 (thing) px 6-9
    // pred 3 (thing) px 0-3 on the crowd: unmatched, crowd share 4/4 → not FP
    // pred 5 (stuff) px 4-5 on the thing crowd: other category → FP for stuff
    // pred 4 (thing) px 6-9 → TP IoU 1
    // thing: TP 1 → PQ 1; stuff: FP 1 → PQ 0; all = 1/2, SQ (1 + 0)/2, RQ (1 + 0)/2
    const r = new PanopticQuality(categories)
      .addImage(
        { ids: ids([1, 1, 1, 1, 1, 1, 2, 2, 2, 2]), segments: [{ id: 1, categoryId: THING, iscrowd: true }, { id: 2, categoryId: THING }] },
        { ids: ids([3, 3, 3, 3, 5, 5, 4, 4, 4, 4]), segments: [{ id: 3, categoryId: THING }, { id: 4, categoryId: THING }, { id: 5, categoryId: STUFF }] },
      )
      .result();
    expect(r.perClass[0]).toMatchObject({ tp: 1, fp: 0, fn: 0 });
    expect(r.perClass[1]).toMatchObject({ tp: 0, fp: 1, fn: 0 });
    expect(r.all.pq).toBeCloseTo(0.5, 12);
    expect(r.all.sq).toBeCloseTo(0.5, 12);
    expect(r.all.rq).toBeCloseTo(0.5, 12);
    expect(r.things).toEqual({ pq: 1, sq: 1, rq: 1, n: 1 });
    expect(r.stuff).toEqual({ pq: 0, sq: 0, rq: 0, n: 1 });
  });

  it("does not match a crowd segment even with a perfect overlap", () => {
    // gt seg 1 crowd px 0-3; pred 2 same pixels → no TP, no FN, not FP → category not counted
    const r = new PanopticQuality(categories)
      .addImage({ ids: ids([1, 1, 1, 1]), segments: [{ id: 1, categoryId: THING, iscrowd: true }] }, { ids: ids([2, 2, 2, 2]), segments: [{ id: 2, categoryId: THING }] })
      .result();
    expect(r.all.n).toBe(0);
    expect(r.perClass[0]).toMatchObject({ tp: 0, fp: 0, fn: 0, pq: null });
  });

  it("accumulates over images and merges accumulators", () => {
    const img1 = () => [
      { ids: ids([1, 1, 1, 1]), segments: [{ id: 1, categoryId: THING }] },
      { ids: ids([2, 2, 2, 0]), segments: [{ id: 2, categoryId: THING }] },
    ] as const; // IoU 3/4 → TP
    const img2 = () => [
      { ids: ids([1, 1, 0, 0]), segments: [{ id: 1, categoryId: THING }] },
      { ids: ids([0, 0, 3, 3]), segments: [{ id: 3, categoryId: THING }] },
    ] as const; // FN 1, pred 3 entirely on void → not FP
    // totals: TP 1 (IoU 3/4), FN 1 → PQ = 0.75 / 1.5 = 1/2, SQ 3/4, RQ 2/3
    const a = new PanopticQuality(categories).addImage(...img1());
    const b = new PanopticQuality(categories).addImage(...img2());
    const r = a.merge(b).result();
    expect(a.images).toBe(2);
    expect(r.things.pq).toBeCloseTo(0.5, 12);
    expect(r.things.sq).toBeCloseTo(0.75, 12);
    expect(r.things.rq).toBeCloseTo(2 / 3, 12);
  });

  it("rejects maps and segment lists that disagree, naming the image", () => {
    const pq = new PanopticQuality(categories);
    const gt = { ids: ids([1, 1]), segments: [{ id: 1, categoryId: THING }] };
    expect(() => pq.addImage(gt, { ids: ids([1, 9]), segments: [{ id: 1, categoryId: THING }] }, "a.png")).toThrow(/a\.png: predicted segment id 9 is in the map/);
    expect(() => pq.addImage(gt, { ids: ids([1, 1]), segments: [{ id: 1, categoryId: 42 }] }, "a.png")).toThrow(/unknown category 42/);
    expect(() => pq.addImage(gt, { ids: ids([1]), segments: [{ id: 1, categoryId: THING }] }, "a.png")).toThrow(/1 pixels, ground truth 2/);
  });
});

describe("panopticFromLabelMap", () => {
  it("assigns dense ids in order of appearance, class 0 stuff is not void", () => {
    // values: void, class 2 stuff, class 2 stuff, class 1 inst 1, class 1 inst 2, class 0 stuff, class 2
    const r = panopticFromLabelMap(Int32Array.of(-1, 2000, 2000, 1001, 1002, 0, 2000), {
      labelDivisor: 1000,
      isCrowd: (c, inst) => c === 1 && inst === 0,
    });
    expect(Array.from(r.ids)).toEqual([0, 1, 1, 2, 3, 4, 1]);
    expect(r.segments).toEqual([
      { id: 1, categoryId: 2, iscrowd: false },
      { id: 2, categoryId: 1, iscrowd: false },
      { id: 3, categoryId: 1, iscrowd: false },
      { id: 4, categoryId: 0, iscrowd: false },
    ]);
    const crowd = panopticFromLabelMap(Int32Array.of(1000, 255000), { labelDivisor: 1000, voidValue: 255000, isCrowd: (c, inst) => c === 1 && inst === 0 });
    expect(Array.from(crowd.ids)).toEqual([1, 0]);
    expect(crowd.segments[0].iscrowd).toBe(true);
  });
});
