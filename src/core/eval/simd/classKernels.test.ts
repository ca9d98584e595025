import { prng } from "../../testing/prng";
import { bilinearTaps } from "../resize/bilinearTaps";
import { scalarArgmax, semanticArgmax } from "../postprocess/semanticArgmax";
import { BlendRows, simdArgmax } from "./classKernels";

const random = prng(90210);

/** Logits with ties (values on a coarse grid), NaN, ±∞ and signed zeros sprinkled in. */
function awkward(n: number, special = 0.02): Float32Array {
  const specials = [NaN, Infinity, -Infinity, 0, -0];
  return Float32Array.from({ length: n }, () => (random() < special ? specials[Math.floor(random() * specials.length)] : Math.round((random() - 0.5) * 8) / 4));
}

/** argmax as the definition reads: class c wins over the best so far only when strictly greater. */
function referenceArgmax(logits: Float32Array, classes: number, plane: number): { ids: number[]; winners: number[] } {
  const ids: number[] = [];
  const winners: number[] = [];
  for (let i = 0; i < plane; i++) {
    let best = logits[i];
    let id = 0;
    for (let c = 1; c < classes; c++) {
      if (logits[c * plane + i] > best) {
        best = logits[c * plane + i];
        id = c;
      }
    }
    ids.push(id);
    winners.push(best);
  }
  return { ids, winners };
}

describe("class kernels (WebAssembly SIMD)", () => {
  it("run here (Node has WebAssembly SIMD), so the comparisons below exercise them", () => {
    expect(simdArgmax(Float32Array.of(1, 2), 2, 1, new Uint8Array(1), null)).toBe(true);
    expect(BlendRows.create()).not.toBeNull();
  });

  it("argmax: the definition's classes and winning values, ties to the lowest class, NaN never winning (by hand)", () => {
    // pixel 0: tie 3 vs 3 → class 1; pixel 1: NaN in class 0 stays; pixel 2: NaN elsewhere never wins; pixel 3: +∞; pixel 4: −0 vs +0 tie
    const logits = Float32Array.of(1, NaN, 5, 0, -0, /**/ 3, 7, NaN, Infinity, 0, /**/ 3, 9, 4, 1, -1);
    const ids = new Uint8Array(5);
    const winners = new Float32Array(5);
    expect(simdArgmax(logits, 3, 5, ids, winners)).toBe(true);
    expect(Array.from(ids)).toEqual([1, 0, 0, 1, 0]);
    expect(Object.is(winners[1], NaN)).toBe(true);
    expect(Array.from(winners).filter((_, i) => i !== 1)).toEqual([3, 5, Infinity, -0]);
  });

  it.each([
    [1, 7],
    [2, 3],
    [5, 2047],
    [19, 2048],
    [19, 2049],
    [19, 5003],
    [256, 300],
  ])("argmax of %i classes × %i pixels equals the definition (ids and winners, bit for bit)", (classes, plane) => {
    const logits = awkward(classes * plane);
    const ids = new Uint8Array(plane);
    const winners = new Float32Array(plane);
    expect(simdArgmax(logits, classes, plane, ids, winners)).toBe(true);
    const want = referenceArgmax(logits, classes, plane);
    expect(Array.from(ids)).toEqual(want.ids);
    const differ = want.winners.flatMap((w, i) => (Object.is(Math.fround(w), winners[i]) ? [] : [i]));
    expect(differ).toEqual([]);
  });

  it("argmax declines more than 256 classes (ids would not fit a byte) and semanticArgmax takes its JavaScript path", () => {
    const logits = awkward(300 * 4);
    expect(simdArgmax(logits, 300, 4, new Uint8Array(4), null)).toBe(false);
    expect(Array.from(semanticArgmax(logits, 300, 2, 2))).toEqual(referenceArgmax(logits, 300, 4).ids);
  });

  it("semanticArgmax (kernel) and its JavaScript path agree on ids and winners", () => {
    const logits = awkward(19 * 64 * 48);
    const fast = semanticArgmax(logits, 19, 64, 48, new Uint8Array(64 * 48), new Float32Array(64 * 48));
    const winnersFast = new Float32Array(64 * 48);
    semanticArgmax(logits, 19, 64, 48, new Uint8Array(64 * 48), winnersFast);
    const winnersSlow = new Float32Array(64 * 48);
    const slow = scalarArgmax(logits, 19, 64 * 48, new Uint8Array(64 * 48), winnersSlow);
    expect(Array.from(fast)).toEqual(Array.from(slow));
    expect(Array.from(winnersFast).every((w, i) => Object.is(w, winnersSlow[i]))).toBe(true);
  });

  it.each([
    [3, 16, 32],
    [19, 37, 75],
    [5, 32, 64],
    [19, 64, 33],
    [2, 1, 5],
  ])("resample and blend of %i classes, %i → %i wide, equal the float32 / float64 formulas", (classes, inW, outW) => {
    const k = BlendRows.create()!;
    const tx = bilinearTaps(inW, outW);
    expect(k.reserve(classes, inW, tx)).toBe(true);
    const inH = 3;
    const plane = inH * inW;
    const logits = awkward(classes * plane, 0);
    k.resample(logits, plane, 1, k.rowA);
    k.resample(logits, plane, 2, k.rowB);
    // horizontal: one float64 sum of two exact products, rounded once to float32
    const horizontal = (y: number) =>
      Float32Array.from({ length: classes * outW }, (_, j) => {
        const c = Math.floor(j / outW);
        const x = j % outW;
        const s = c * plane + y * inW;
        return logits[s + tx.i0[x]] * tx.w0[x] + logits[s + tx.i1[x]] * tx.w1[x];
      });
    const a = horizontal(1);
    const b = horizontal(2);
    expect(Array.from(k.rowA)).toEqual(Array.from(a));
    expect(Array.from(k.rowB)).toEqual(Array.from(b));
    const blendRef = (wy0: number, wy1: number) =>
      Array.from({ length: outW }, (_, x) => {
        let best = -Infinity;
        let id = 0;
        for (let c = 0; c < classes; c++) {
          const v = a[c * outW + x] * wy0 + b[c * outW + x] * wy1;
          if (v > best) {
            best = v;
            id = c;
          }
        }
        return id;
      });
    const [wy0, wy1, wz0, wz1] = [Math.fround(0.75), Math.fround(0.25), Math.fround(0.25), Math.fround(0.75)];
    k.blend(k.rowA, k.rowB, wy0, wy1);
    expect(Array.from(k.arg)).toEqual(blendRef(wy0, wy1));
    k.blend2(k.rowA, k.rowB, wz0, wz1, wy0, wy1);
    expect(Array.from(k.arg)).toEqual(blendRef(wz0, wz1));
    expect(Array.from(k.arg2)).toEqual(blendRef(wy0, wy1));
  });

  it("blend keeps ties on the lowest class and never picks a NaN (by hand)", () => {
    const k = BlendRows.create()!;
    const tx = bilinearTaps(2, 2); // identity taps
    k.reserve(3, 2, tx);
    // pixel 0: classes 1 and 2 tie at 0.5·2 + 0.5·2; pixel 1: class 0 NaN, class 2 largest
    k.rowA.set([0, NaN, /**/ 2, 1, /**/ 2, 3]);
    k.rowB.set([0, NaN, /**/ 2, 1, /**/ 2, 3]);
    k.blend(k.rowA, k.rowB, 0.5, 0.5);
    expect(Array.from(k.arg)).toEqual([1, 2]);
  });

  it("reserve grows the memory and the views follow it (large rows after small ones)", () => {
    const k = BlendRows.create()!;
    k.reserve(2, 4, bilinearTaps(4, 8));
    const small = k.rowA;
    k.reserve(19, 1024, bilinearTaps(1024, 2048));
    expect(k.rowA.length).toBe(19 * 2048);
    expect(k.rowA.buffer).not.toBe(small.buffer);
    expect(k.arg2.length).toBe(2048);
  });
});
