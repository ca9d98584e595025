import { badInput } from "../../errors";

/** `inference.postprocess` of an inference contract, with its defaults. */
export interface PanopticPostprocessOptions {
  /** Heatmap scores must exceed this (strictly) to be a center. */
  centerThreshold: number;
  /** Max-pool window of the center NMS; odd, so the pooled map keeps the heatmap's size. */
  nmsKernel: number;
  /** At most this many centers (see findInstanceCenters for the reference's exact rule). */
  topK: number;
  /** Stuff segments with fewer pixels become void (Cityscapes configs use 2048). */
  stuffArea: number;
  /** Thing instances with fewer pixels become void. */
  thingArea: number;
  /** panoptic id = class · labelDivisor + instance. */
  labelDivisor: number;
  /** YX: offset channel 0 is dy (Panoptic-DeepLab); XY: channel 0 is dx. */
  offsetOrder: "YX" | "XY";
  /** SIGMOID when the exported center head emits logits rather than heatmap scores. */
  centerActivation: "NONE" | "SIGMOID";
}

export const DEFAULT_PANOPTIC_POSTPROCESS: Readonly<PanopticPostprocessOptions> = Object.freeze({
  centerThreshold: 0.1,
  nmsKernel: 7,
  topK: 200,
  stuffArea: 0,
  thingArea: 0,
  labelDivisor: 1000,
  offsetOrder: "YX",
  centerActivation: "NONE",
});

/** Fills defaults and checks values; errors name the `inference.postprocess.*` field at fault. */
export function resolvePanopticPostprocess(partial: Partial<PanopticPostprocessOptions> = {}): PanopticPostprocessOptions {
  const o: PanopticPostprocessOptions = { ...DEFAULT_PANOPTIC_POSTPROCESS };
  for (const [k, v] of Object.entries(partial)) if (v !== undefined && v !== null) (o as unknown as Record<string, unknown>)[k] = v;
  const field = (k: string) => `inference.postprocess.${k}`;
  if (!Number.isFinite(o.centerThreshold)) throw badInput(`centerThreshold must be a number, got ${o.centerThreshold}`, field("centerThreshold"));
  if (!Number.isInteger(o.nmsKernel) || o.nmsKernel < 1 || o.nmsKernel % 2 === 0) throw badInput(`nmsKernel must be a positive odd integer, got ${o.nmsKernel}`, field("nmsKernel"));
  if (!Number.isInteger(o.topK) || o.topK < 1) throw badInput(`topK must be a positive integer, got ${o.topK}`, field("topK"));
  for (const k of ["stuffArea", "thingArea"] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 0) throw badInput(`${k} must be a non-negative integer, got ${o[k]}`, field(k));
  }
  if (!Number.isInteger(o.labelDivisor) || o.labelDivisor < 1) throw badInput(`labelDivisor must be a positive integer, got ${o.labelDivisor}`, field("labelDivisor"));
  if (o.offsetOrder !== "YX" && o.offsetOrder !== "XY") throw badInput(`offsetOrder must be YX or XY, got ${String(o.offsetOrder)}`, field("offsetOrder"));
  if (o.centerActivation !== "NONE" && o.centerActivation !== "SIGMOID") throw badInput(`centerActivation must be NONE or SIGMOID, got ${String(o.centerActivation)}`, field("centerActivation"));
  return o;
}
