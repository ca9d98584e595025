import { resizeBilinear, resizeNearest, type ClassIdArray } from "../../core/eval";
import { addAgreement, agreementStats, agreementStatsLength, probabilityStats, type ImageStats, type OutputActivation } from "../../core/search";
import { fastResizeArgmax, resizeArgmaxRows } from "../fastResizeArgmax";
import type { FloatMap, IdMap } from "../readHeadOutputs";

/** The semantic output of one image: scores, or class ids for SEMANTIC_IDS models. */
export type SemanticOutput = { kind: "scores"; map: FloatMap } | { kind: "ids"; map: IdMap };

/**
 * What one model output is reduced to (docs/CONVENTIONS.md, Merge search): probability
 * statistics of the scores at the image's size (INFO_MAX, ENTROPY), or agreement statistics of
 * its class map at the image's size against a reference (labels, pseudo-labels).
 */
export type OutputReduction =
  | { kind: "probability"; height: number; width: number; classes: number; activation: OutputActivation }
  | { kind: "agreement"; height: number; width: number; classes: number; reference: ArrayLike<number>; ignoreIndex: number };

export function reduceOutput(out: SemanticOutput, r: OutputReduction): ImageStats {
  if (r.kind === "probability") {
    if (out.kind !== "scores") throw new Error("probability statistics need scores");
    return probabilityStats(scoresAtImageSize(out.map, r.height, r.width), r.classes, r.width * r.height, r.activation);
  }
  if (out.kind === "scores" && (out.map.height !== r.height || out.map.width !== r.width)) {
    // Counted row by row as the class map is resized, without the full-size map.
    if (r.reference.length !== r.height * r.width) throw new Error(`agreement statistics: a reference of ${r.reference.length} pixels for a ${r.width}×${r.height} image`);
    const stats = new Float64Array(agreementStatsLength(r.classes));
    const { data, channels, height, width } = out.map;
    resizeArgmaxRows(data, channels, height, width, r.height, r.width, (oy, row) => addAgreement(stats, row, r.reference, oy * r.width, r.classes, r.ignoreIndex));
    return stats;
  }
  return agreementStats(classesAtImageSize(out, r.height, r.width), r.reference, r.classes, r.ignoreIndex);
}

/** Scores [C, H·W] at the image's size, through evaluation's bilinear resize (half-pixel centres). */
export function scoresAtImageSize(out: FloatMap, height: number, width: number): Float32Array {
  return out.height === height && out.width === width ? out.data : resizeBilinear(out.data, out.channels, out.height, out.width, height, width);
}

/** Class ids at the image's size as evaluation computes them (fastResizeArgmax / nearest for ids). */
export function classesAtImageSize(out: SemanticOutput, height: number, width: number): ClassIdArray {
  return out.kind === "scores" ? fastResizeArgmax(out.map.data, out.map.channels, out.map.height, out.map.width, height, width) : resizeNearest(out.map.data, out.map.height, out.map.width, height, width);
}
