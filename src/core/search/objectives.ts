import { badInput, invariant } from "../errors";
import { agreementStatsLength, ImageStats, probabilityStatsLength } from "./imageStats";
import { panopticQualityOf, panopticStatsLength } from "./panopticStats";

/** Objective kinds of a merge search; the GraphQL enum derives from these. Higher is better for all. */
export const OBJECTIVE_KINDS = ["SCORE", "INFO_MAX", "ENTROPY", "CONSISTENCY", "ENSEMBLE_AGREEMENT"] as const;
export type ObjectiveKind = (typeof OBJECTIVE_KINDS)[number];

/** The kinds computed without labels (any dataset format, IMAGES included). */
export const LABEL_FREE_KINDS: readonly ObjectiveKind[] = ["INFO_MAX", "ENTROPY", "CONSISTENCY", "ENSEMBLE_AGREEMENT"];

export function resolveObjectiveKind(kind: string, field: string): ObjectiveKind {
  if (!(OBJECTIVE_KINDS as readonly string[]).includes(kind)) throw badInput(`unknown objective kind ${JSON.stringify(kind)}; expected one of ${OBJECTIVE_KINDS.join(", ")}`, field);
  return kind as ObjectiveKind;
}

/**
 * What a set of image statistics measures: an objective kind, or `PQ` — SCORE and audit on a
 * panoptic task, whose primary metric is panoptic quality (per class ΣIoU, TP, FP, FN).
 */
export type StatsMeasure = ObjectiveKind | "PQ";

/** The measure of SCORE and audits on a task: PQ for PANOPTIC (as evaluation scores it), else the kind itself. */
export function measureOf(kind: ObjectiveKind, taskMetric: "MIOU" | "PQ" | undefined): StatsMeasure {
  return kind === "SCORE" && taskMetric === "PQ" ? "PQ" : kind;
}

/** Whether the kind reduces probabilities (INFO_MAX, ENTROPY) or class maps (the others). */
export function usesProbabilities(kind: StatsMeasure): boolean {
  return kind === "INFO_MAX" || kind === "ENTROPY";
}

export function statsLength(kind: StatsMeasure, classes: number): number {
  if (kind === "PQ") return panopticStatsLength(classes);
  return usesProbabilities(kind) ? probabilityStatsLength(classes) : agreementStatsLength(classes);
}

/**
 * The objective from summed image statistics (docs/CONVENTIONS.md, Merge search):
 * INFO_MAX = H(p̄) − mean H(p); ENTROPY = −mean H(p); the others mIoU over the classes with a
 * non-empty union (null when none has, as meanIoU); PQ the mean of ΣIoU / (TP + ½FP + ½FN) over
 * the classes with TP + FP + FN > 0 (0 when none has, as evaluation's PQ). Float64 throughout.
 */
export function objectiveValue(kind: StatsMeasure, total: ImageStats, classes: number): number | null {
  // The message is built only on failure: a search's bootstrap calls this a thousand times per candidate.
  if (total.length !== statsLength(kind, classes)) invariant(false, `objectiveValue: ${total.length} statistics for ${kind} over ${classes} classes`);
  if (kind === "PQ") return panopticQualityOf(total, classes);
  if (usesProbabilities(kind)) {
    const pixels = total[classes + 1];
    if (pixels === 0) return null;
    const meanEntropy = total[classes] / pixels;
    if (kind === "ENTROPY") return -meanEntropy;
    let marginal = 0;
    for (let c = 0; c < classes; c++) {
      const p = total[c] / pixels;
      if (p > 0) marginal -= p * Math.log(p);
    }
    return marginal - meanEntropy;
  }
  let sum = 0;
  let n = 0;
  for (let c = 0; c < classes; c++) {
    const tp = total[c];
    const union = total[classes + c] + total[2 * classes + c] - tp;
    if (union > 0) {
      sum += tp / union;
      n++;
    }
  }
  return n > 0 ? sum / n : null;
}

/** Σ_i weight_i · stats_i (weights: bootstrap multiplicities; default 1 each). */
export function sumStats(images: readonly ImageStats[], length: number, weights?: ArrayLike<number>): ImageStats {
  const total = new Float64Array(length);
  images.forEach((s, i) => {
    const w = weights ? weights[i] : 1;
    if (w === 0) return;
    for (let k = 0; k < length; k++) total[k] += w * s[k];
  });
  return total;
}
