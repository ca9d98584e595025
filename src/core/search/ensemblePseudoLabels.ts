import { invariant } from "../errors";
import type { OutputActivation } from "./imageStats";

/**
 * ENSEMBLE_AGREEMENT's reference for one image: the argmax (ties to the lowest class) of the mean
 * softmax of the pool's models, each given as scores [C, H·W] at the image's size. Float64.
 */
export function ensemblePseudoLabels(members: ReadonlyArray<{ scores: Float32Array | Float64Array; activation: OutputActivation }>, classes: number, pixels: number): Uint16Array {
  invariant(members.length > 0, "ensemblePseudoLabels needs at least one model");
  const sum = new Float64Array(classes * pixels);
  for (const { scores, activation } of members) {
    invariant(scores.length === classes * pixels, `ensemblePseudoLabels: ${scores.length} scores for ${classes} classes × ${pixels} pixels`);
    for (let i = 0; i < pixels; i++) {
      if (activation === "PROBS") {
        for (let c = 0; c < classes; c++) sum[c * pixels + i] += scores[c * pixels + i];
        continue;
      }
      let max = -Infinity;
      for (let c = 0; c < classes; c++) max = Math.max(max, scores[c * pixels + i]);
      let total = 0;
      for (let c = 0; c < classes; c++) total += Math.exp(scores[c * pixels + i] - max);
      for (let c = 0; c < classes; c++) sum[c * pixels + i] += Math.exp(scores[c * pixels + i] - max) / total;
    }
  }
  // The mean's argmax is the sum's: dividing by the member count changes no order.
  const out = new Uint16Array(pixels);
  for (let i = 0; i < pixels; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (sum[c * pixels + i] > sum[best * pixels + i]) best = c;
    out[i] = best;
  }
  return out;
}
