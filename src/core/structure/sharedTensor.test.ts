import { isParameter, isShared } from "./sharedTensor";
import type { DType } from "./types";

const t = (shape: number[], dtype: DType, mergeable = true) => ({ shape, dtype, mergeable });

describe("the shared-tensor rule", () => {
  it("shares same-shaped parameters, whatever their floating dtypes", () => {
    expect(isShared(t([2, 3], "F32"), t([2, 3], "F32"))).toBe(true);
    expect(isShared(t([2, 3], "F32"), t([2, 3], "F16"))).toBe(true);
    expect(isShared(t([2, 3], "BF16"), t([2, 3], "F64"))).toBe(true);
  });

  it("does not share different shapes (same element count included), integers or tensors marked not mergeable", () => {
    expect(isShared(t([2, 3], "F32"), t([3, 2], "F32"))).toBe(false);
    expect(isShared(t([6], "F32"), t([6, 1], "F32"))).toBe(false);
    expect(isShared(t([2], "I64"), t([2], "I64"))).toBe(false);
    expect(isShared(t([2], "F32"), t([2], "F32", false))).toBe(false);
    expect([isParameter(t([2], "F16")), isParameter(t([2], "I8")), isParameter(t([2], "F32", false))]).toEqual([true, false, false]);
  });
});
