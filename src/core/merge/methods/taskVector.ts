import type { FloatArray } from "../floatArrays";
import type { MethodParameter } from "./mergeMethod";

/*
 * What the task-vector methods (TASK_ARITHMETIC, TIES, DARE) share: the scale λ and the final
 * θ = θ_base + λ · τ_merged. Arithmetic is float32 when the arrays are Float32Array: every product
 * rounded with Math.fround and every sum by the store, which is exactly IEEE float32 (float64 has
 * more than 2·24 + 2 bits, so rounding twice is harmless); with Float64Array it is float64.
 */

export const LAMBDA: MethodParameter = {
  name: "lambda",
  type: "FLOAT",
  default: 1,
  min: 0,
  max: 10,
  minInclusive: true,
  maxInclusive: true,
  description: "Scale λ of the merged task vector: θ = θ_base + λ · Σ_k w_k(l) τ'_k.",
};

/** θ = base + λ · acc, in place in `acc`. */
export function applyTaskVector(acc: FloatArray, base: FloatArray, lambda: number): void {
  const n = acc.length;
  if (acc instanceof Float32Array) {
    const l32 = Math.fround(lambda);
    for (let i = 0; i < n; i++) acc[i] = base[i] + Math.fround(l32 * acc[i]);
  } else {
    for (let i = 0; i < n; i++) acc[i] = base[i] + lambda * acc[i];
  }
}
