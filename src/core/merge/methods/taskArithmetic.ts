import type { FloatArray } from "../floatArrays";
import { chunkwise, defineMethod, FLOAT_DTYPES, ONE_PASS } from "./mergeMethod";
import { applyTaskVector, LAMBDA } from "./taskVector";

/** acc += w · (x − base), in the precision of `acc` (taskVector.ts). */
export function addWeightedDelta(acc: FloatArray, x: FloatArray, base: FloatArray, w: number): void {
  const n = acc.length;
  if (acc instanceof Float32Array) {
    const w32 = Math.fround(w);
    for (let i = 0; i < n; i++) acc[i] += Math.fround(w32 * Math.fround(x[i] - base[i]));
  } else {
    for (let i = 0; i < n; i++) acc[i] += w * (x[i] - base[i]);
  }
}

/** θ = θ_base + λ · Σ_k w_k(l) (θ_k − θ_base) (arXiv 2212.04089), element by element. */
export const taskArithmetic = defineMethod({
  name: "TASK_ARITHMETIC",
  title: "Task arithmetic",
  description: "Adds the weighted task vectors τ_k = θ_k − θ_base, scaled by λ, to the base model.",
  paper: { arxiv: "2212.04089", title: "Editing Models with Task Arithmetic" },
  needsBase: true,
  parameters: [LAMBDA],
  dtypes: FLOAT_DTYPES,
  reads: ONE_PASS,
  mergeTensor: chunkwise(async (t, start, count, acc) => {
    const base = await t.readBase(start, count);
    for (let k = 0; k < t.inputs.length; k++) addWeightedDelta(acc, await t.read(k, start, count), base, t.inputs[k].weight);
    applyTaskVector(acc, base, t.params.lambda);
  }),
});
