import { kthLargest } from "./kthLargest";

describe("kthLargest", () => {
  it("agrees with a full sort on random data with many duplicates", () => {
    let seed = 12345;
    const next = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (const n of [1, 2, 3, 10, 101, 1000]) {
      const values = Array.from({ length: n }, () => Math.floor(next() * 20) / 4);
      const sorted = [...values].sort((a, b) => b - a);
      for (const k of [1, Math.ceil(n / 3), n]) {
        expect(kthLargest(Float32Array.from(values), k)).toBe(sorted[k - 1]);
      }
    }
  });

  it("finds the 2nd largest of [3, 1, 4, 1, 5] = 4", () => {
    expect(kthLargest(Float64Array.from([3, 1, 4, 1, 5]), 2)).toBe(4);
  });
});
