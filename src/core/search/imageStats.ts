import { invariant } from "../errors";
import { fastExp, fastLog } from "./fastExpLog";

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

/** Pixels per block of probabilityStats: a block's class planes (C × 256 float64) stay in cache. */
const BLOCK = 256;

/**
 * Probability statistics of one image from its scores [C, H·W] (planar, at the image's size).
 * Softmax and entropy in float64; H in nats with 0 · log 0 = 0.
 *
 * Logits take one exp per class and one log per pixel: with m the pixel's largest logit,
 * e_c = exp(x_c − m) and Z = Σ e_c, H = log Z − Σ_c e_c (x_c − m) / Z (a class with e_c = 0 adds
 * nothing, as 0 · log 0). Classes are walked over blocks of contiguous pixels, so every read
 * runs along a class plane instead of striding across them. exp and log are fastExpLog's
 * (within a few ulps of Math's, several times cheaper: this is the per-pixel × class cost).
 */
export function probabilityStats(scores: Float32Array | Float64Array, classes: number, pixels: number, activation: OutputActivation): ImageStats {
  invariant(scores.length === classes * pixels, `probabilityStats: ${scores.length} scores for ${classes} classes × ${pixels} pixels`);
  const stats = new Float64Array(classes + 2);
  const e = new Float64Array(classes * BLOCK);
  const max = new Float64Array(BLOCK);
  const z = new Float64Array(BLOCK);
  const s = new Float64Array(BLOCK);
  let entropySum = 0;
  for (let i0 = 0; i0 < pixels; i0 += BLOCK) {
    const n = Math.min(BLOCK, pixels - i0);
    if (activation === "LOGITS") {
      for (let k = 0; k < n; k++) max[k] = scores[i0 + k];
      for (let c = 1; c < classes; c++) {
        const o = c * pixels + i0;
        for (let k = 0; k < n; k++) {
          const v = scores[o + k];
          if (v > max[k]) max[k] = v;
        }
      }
      z.fill(0, 0, n);
      s.fill(0, 0, n);
      for (let c = 0; c < classes; c++) {
        const o = c * pixels + i0;
        const b = c * BLOCK;
        for (let k = 0; k < n; k++) {
          const d = scores[o + k] - max[k];
          const v = fastExp(d);
          e[b + k] = v;
          z[k] += v;
          if (v > 0) s[k] += v * d;
        }
      }
      for (let k = 0; k < n; k++) {
        const inv = 1 / z[k];
        entropySum += fastLog(z[k]) - s[k] * inv;
        z[k] = inv;
      }
      for (let c = 0; c < classes; c++) {
        const b = c * BLOCK;
        let acc = 0;
        for (let k = 0; k < n; k++) acc += e[b + k] * z[k];
        stats[c] += acc;
      }
    } else {
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
  for (let i = 0; i < prediction.length; i++) {
    const r = reference[i];
    if (r === ignoreIndex) continue;
    invariant(r >= 0 && r < classes, `agreementStats: reference class ${r} outside [0, ${classes})`);
    const q = prediction[i];
    stats[classes + r]++;
    if (q >= 0 && q < classes) {
      stats[2 * classes + q]++;
      if (q === r) stats[r]++;
    }
  }
  return stats;
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
