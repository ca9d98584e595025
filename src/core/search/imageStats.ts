import { invariant } from "../errors";
import { fastLog } from "./fastExpLog";
import { BLOCK, logitsBlockScalar, logitsScratch } from "./logitsBlock";
import { simdLogitsStats } from "./simd/simdLogitsStats";

/**
 * Per-image sufficient statistics of the objectives (docs/CONVENTIONS.md, Merge search). An
 * objective over a set of images is a function of the sum of its images' statistics, so the
 * bootstrap of pickConfidence re-weights images without running any model again.
 *
 * - probability statistics (INFO_MAX, ENTROPY), length C + 2: Σ p_c over the image's pixels for
 *   each class, Σ H(p), the pixel count;
 * - agreement statistics (SCORE, CONSISTENCY, ENSEMBLE_AGREEMENT), length 3C: per class the true
 *   positives, the reference's pixels and the prediction's pixels (the diagonal and the margins of
 *   the image's confusion matrix, which are all mIoU needs).
 */
export type ImageStats = Float64Array;

/** Whether a model output holds logits (softmax applied here) or probabilities already. */
export type OutputActivation = "LOGITS" | "PROBS";

export const probabilityStatsLength = (classes: number) => classes + 2;
export const agreementStatsLength = (classes: number) => 3 * classes;

/** Which implementation of the logits' statistics: WebAssembly SIMD when available, or scalar JavaScript. */
export type StatsKernel = "auto" | "scalar";

/**
 * Probability statistics of one image from its scores [C, H·W] (planar, at the image's size).
 * Softmax and entropy in float64; H in nats with 0 · log 0 = 0.
 *
 * Logits take one exp per class and one log per pixel, fused over blocks of 256 pixels whose
 * class rows stay in L1 (logitsBlock.ts): the SIMD kernel (simd/probabilityKernels.wat) for
 * float32 scores unless `kernel` is "scalar", the same bits either way. exp and log are
 * fastExpLog's (within a few ulps of Math's, several times cheaper: this is the per-pixel ×
 * class cost).
 */
export function probabilityStats(scores: Float32Array | Float64Array, classes: number, pixels: number, activation: OutputActivation, kernel: StatsKernel = "auto"): ImageStats {
  invariant(scores.length === classes * pixels, `probabilityStats: ${scores.length} scores for ${classes} classes × ${pixels} pixels`);
  const stats = new Float64Array(classes + 2);
  let entropySum = 0;
  if (activation === "LOGITS") {
    const simd = kernel === "auto" && scores instanceof Float32Array ? simdLogitsStats(scores, classes, pixels, stats) : null;
    if (simd !== null) entropySum = simd;
    else {
      const scratch = logitsScratch(classes);
      for (let i0 = 0; i0 < pixels; i0 += BLOCK) entropySum += logitsBlockScalar(scores, classes, pixels, i0, Math.min(BLOCK, pixels - i0), scratch, stats);
    }
  } else {
    for (let i0 = 0; i0 < pixels; i0 += BLOCK) {
      const n = Math.min(BLOCK, pixels - i0);
      for (let c = 0; c < classes; c++) {
        const o = c * pixels + i0;
        let acc = 0;
        let h = 0;
        for (let k = 0; k < n; k++) {
          const v = scores[o + k];
          acc += v;
          if (v > 0) h -= v * fastLog(v);
        }
        stats[c] += acc;
        entropySum += h;
      }
    }
  }
  stats[classes] = entropySum;
  stats[classes + 1] = pixels;
  return stats;
}

/**
 * Agreement statistics of a prediction against a reference map (labels, the unperturbed
 * prediction, or the ensemble's pseudo-labels), both [H·W] class ids. Reference pixels equal to
 * `ignoreIndex` do not count; a predicted id outside [0, C) counts as a miss of the reference class.
 */
export function agreementStats(prediction: ArrayLike<number>, reference: ArrayLike<number>, classes: number, ignoreIndex = -1): ImageStats {
  invariant(prediction.length === reference.length, `agreementStats: ${prediction.length} predicted pixels for ${reference.length} reference pixels`);
  const stats = new Float64Array(3 * classes);
  addAgreement(stats, prediction, reference, 0, classes, ignoreIndex);
  return stats;
}

/**
 * agreementStats counted into `stats` for a run of pixels: `prediction[i]` against
 * `reference[offset + i]` (a row of the prediction as it is produced, against its row of the
 * reference), so a prediction map need not exist in full.
 */
export function addAgreement(stats: ImageStats, prediction: ArrayLike<number>, reference: ArrayLike<number>, offset: number, classes: number, ignoreIndex = -1): void {
  if (offset + prediction.length > reference.length) invariant(false, `agreementStats: pixels ${offset}…${offset + prediction.length} of a reference of ${reference.length}`);
  for (let i = 0; i < prediction.length; i++) {
    const r = reference[offset + i];
    if (r === ignoreIndex) continue;
    // Tested before the message is built: a template literal per pixel cost more than the rest of the loop.
    if (!(r >= 0 && r < classes)) invariant(false, `agreementStats: reference class ${r} outside [0, ${classes})`);
    const q = prediction[i];
    stats[classes + r]++;
    if (q >= 0 && q < classes) {
      stats[2 * classes + q]++;
      if (q === r) stats[r]++;
    }
  }
}

/** Class ids of planar scores [C, H·W]: the first largest (ties go to the lowest class). */
export function argmaxMap(scores: Float32Array | Float64Array, classes: number, pixels: number): Uint16Array {
  const out = new Uint16Array(pixels);
  for (let i = 0; i < pixels; i++) {
    let best = 0;
    let bestValue = scores[i];
    for (let c = 1; c < classes; c++) {
      const v = scores[c * pixels + i];
      if (v > bestValue) {
        bestValue = v;
        best = c;
      }
    }
    out[i] = best;
  }
  return out;
}
