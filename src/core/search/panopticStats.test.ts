import { objectiveValue, statsLength } from "./objectives";
import { panopticStats } from "./panopticStats";
import { sumStats } from "./objectives";

const categories = [
  { id: 0, isThing: false },
  { id: 1, isThing: true },
  { id: 2, isThing: true },
];

describe("panoptic quality from per-image sums", () => {
  it("gives PQ worked out by hand: a match at IoU 2/3, a miss at IoU 1/2 (not > 1/2), an unseen class left out", () => {
    // Image 1: class 0 — gt area 2, pred area 3, overlap 2: IoU 2/3, a TP. Class 1 — gt area 2,
    // pred area 1, overlap 1: IoU 1/2 is no match, so one FN and one FP.
    const one = panopticStats(
      { ids: Int32Array.from([1, 1, 2, 2]), segments: [{ id: 1, categoryId: 0 }, { id: 2, categoryId: 1 }] },
      { ids: Int32Array.from([1, 1, 1, 2]), segments: [{ id: 1, categoryId: 0 }, { id: 2, categoryId: 1 }] },
      categories, 3,
    );
    expect(Array.from(one)).toEqual([2 / 3, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0]);
    // Image 2: class 1 matched exactly (IoU 1).
    const two = panopticStats(
      { ids: Int32Array.from([5, 5, 0, 0]), segments: [{ id: 5, categoryId: 1 }] },
      { ids: Int32Array.from([7, 7, 0, 0]), segments: [{ id: 7, categoryId: 1 }] },
      categories, 3,
    );
    const total = sumStats([one, two], statsLength("PQ", 3));
    // Class 0: (2/3) / 1. Class 1: ΣIoU 1 over TP 1 + ½·1 + ½·1 = 2 → 1/2. Class 2 has no segment: left out.
    expect(objectiveValue("PQ", total, 3)).toBeCloseTo((2 / 3 + 1 / 2) / 2, 15);
    expect(objectiveValue("PQ", new Float64Array(12), 3)).toBe(0);
  });
});
