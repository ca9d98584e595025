import type { FloatArray } from "../floatArrays";
import { createLayerwiseAccumulator, returnLayerwiseAccumulator, takeLayerwiseAccumulator } from "../layerwiseAccumulator";
import { chunkwise, defineMethod, FLOAT_DTYPES, ONE_PASS } from "./mergeMethod";

/**
 * acc += w · x, float32 when `acc` is a Float32Array (each product rounded with Math.fround, each
 * sum by the store: exactly IEEE float32), else float64.
 */
export function addWeighted(acc: FloatArray, x: FloatArray, w: number): void {
  const n = acc.length;
  if (acc instanceof Float32Array) {
    const w32 = Math.fround(w);
    for (let i = 0; i < n; i++) acc[i] += Math.fround(w32 * x[i]);
  } else {
    for (let i = 0; i < n; i++) acc[i] += w * x[i];
  }
}

/**
 * θ(l) = Σ_k w_k(l) θ_k(l) (docs/CONVENTIONS.md, Layer-wise weights), inputs added anchor first.
 * Float32 tensors take the fused accumulator (layerwiseAccumulator.ts: decoding and adding in one
 * pass, WebAssembly SIMD when available, the same bits as this scalar fold).
 */
export const layerwise = defineMethod({
  name: "LAYERWISE",
  title: "Layer-wise merging",
  description: "θ(l) = Σ_k w_k(l) θ_k(l): early layers averaged, late layers kept close to the anchor, following the schedule.",
  paper: { arxiv: "2409.15813", title: "Layer-wise Model Merging for Unsupervised Domain Adaptation in Segmentation Tasks" },
  needsBase: false,
  parameters: [],
  dtypes: FLOAT_DTYPES,
  reads: ONE_PASS,
  mergeTensor: chunkwise(async (t, start, count, acc) => {
    for (let k = 0; k < t.inputs.length; k++) addWeighted(acc, await t.read(k, start, count), t.inputs[k].weight);
  }),
  fusedWeightedSum: { take: takeLayerwiseAccumulator, give: returnLayerwiseAccumulator, create: createLayerwiseAccumulator },
});
