import { layerWeights } from "./layerWeights";

describe("layerWeights", () => {
  it("LINEAR with 3 models over 4 layers (by hand)", () => {
    // N = 3, t = l/3. w_a = 1/3 + (2/3)·t; each contributor (1 − w_a)/2.
    // l = 0: w_a = 1/3, others 1/3, 1/3
    // l = 1: w_a = 1/3 + 2/9 = 5/9, others 2/9 each
    // l = 3: w_a = 1, others 0
    const w0 = layerWeights({ kind: "LINEAR" }, 0, 4, [1, 1]);
    const w1 = layerWeights({ kind: "LINEAR" }, 1, 4, [1, 1]);
    const w3 = layerWeights({ kind: "LINEAR" }, 3, 4, [1, 1]);
    [1 / 3, 1 / 3, 1 / 3].forEach((v, i) => expect(w0[i]).toBeCloseTo(v, 15));
    [5 / 9, 2 / 9, 2 / 9].forEach((v, i) => expect(w1[i]).toBeCloseTo(v, 15));
    [1, 0, 0].forEach((v, i) => expect(w3[i]).toBeCloseTo(v, 15));
  });

  it("splits 1 − w_a in proportion to relative weights", () => {
    // UNIFORM, N = 3: w_a = 1/3; the remaining 2/3 split 3:1 → 1/2 and 1/6
    const w = layerWeights({ kind: "UNIFORM" }, 2, 5, [3, 1]);
    [1 / 3, 1 / 2, 1 / 6].forEach((v, i) => expect(w[i]).toBeCloseTo(v, 15));
  });

  it("counts N per tensor: two models sharing at layer 1 of 3 (STEP 0.5 → s = 1)", () => {
    // t = 1/2 ≥ 0.5 → s = 1 → w_a = 1/2 + 1/2 = 1
    expect(layerWeights({ kind: "STEP", cutoff: 0.5 }, 1, 3, [1])).toEqual([1, 0]);
    // t = 0 → s = 0 → w_a = 1/2
    expect(layerWeights({ kind: "STEP", cutoff: 0.5 }, 0, 3, [1])).toEqual([0.5, 0.5]);
  });

  it("always sums to 1", () => {
    for (const kind of ["LINEAR", "COSINE", "UNIFORM"] as const) {
      for (let l = 0; l < 7; l++) {
        const sum = layerWeights({ kind }, l, 7, [0.3, 2, 0]).reduce((a, b) => a + b, 0);
        expect(sum).toBeCloseTo(1, 14);
      }
    }
  });
});
