import { badInput } from "../../errors";
import { ClassIdArray } from "../resize/resizeArgmax";
import { findInstanceCenters, InstanceCenter } from "./findInstanceCenters";
import { PanopticPostprocessOptions, resolvePanopticPostprocess } from "./panopticPostprocessOptions";
import { semanticArgmax } from "./semanticArgmax";

/** Value of void pixels in a PANOPTIC_IDS map (any negative value is void). */
export const PANOPTIC_VOID = -1;

export interface PanopticDeepLabHeads {
  height: number;
  width: number;
  /** Semantic head: logits [C, H, W] (argmax taken here) or a class map [H, W]. */
  semantic: { logits: Float32Array; channels: number } | { classIds: ClassIdArray };
  /** Center heatmap [H, W] (a [1, H, W] output as is). */
  center: Float32Array;
  /** Offsets [2, H, W] in pixels, channel order per `offsetOrder`. */
  offsets: Float32Array;
}

export interface PanopticDeepLabResult {
  /** class · labelDivisor + instance per pixel (instance 0 for stuff, 1.. per thing class); PANOPTIC_VOID for void. */
  panoptic: Int32Array;
  /** The semantic class map the panoptic map was built from (for mIoU of panoptic models). */
  semantic: ClassIdArray;
  centers: InstanceCenter[];
}

/**
 * Panoptic-DeepLab post-processing (Cheng et al., CVPR 2020; reference: detectron2
 * projects/Panoptic-DeepLab post_processing.py `get_panoptic_segmentation`):
 * - centers: findInstanceCenters on the (optionally sigmoid-activated) heatmap;
 * - every thing pixel (its semantic class is in `thingClasses`) joins the center nearest to
 *   pixel + offset (Euclidean; ties to the earlier center, as torch.argmin);
 * - an instance takes the majority semantic class of its pixels (ties to the smallest class id, as
 *   torch.mode) and is numbered 1, 2, … per class in center order;
 * - each stuff class present is one segment (instance 0);
 * - void: thing pixels when there is no center at all, stuff segments under `stuffArea` pixels,
 *   and (an addition to the reference, as in deeplab2) instances under `thingArea` pixels, which
 *   then take no instance number.
 */
export function postprocessPanopticDeepLab(heads: PanopticDeepLabHeads, thingClasses: ReadonlySet<number>, options: Partial<PanopticPostprocessOptions> = {}): PanopticDeepLabResult {
  const o = resolvePanopticPostprocess(options);
  const { height: H, width: W } = heads;
  const n = H * W;
  if (heads.center.length !== n) throw badInput(`center heatmap holds ${heads.center.length} values, expected ${H}×${W} = ${n} (PANOPTIC_CENTER output)`);
  if (heads.offsets.length !== 2 * n) throw badInput(`offsets hold ${heads.offsets.length} values, expected 2×${H}×${W} = ${2 * n} (PANOPTIC_OFFSET output)`);
  let semantic: ClassIdArray;
  if ("logits" in heads.semantic) {
    semantic = semanticArgmax(heads.semantic.logits, heads.semantic.channels, H, W);
  } else {
    semantic = heads.semantic.classIds;
    if (semantic.length !== n) throw badInput(`semantic class map holds ${semantic.length} values, expected ${H}×${W} = ${n} (PANOPTIC_SEMANTIC output)`);
  }

  let heat = heads.center;
  if (o.centerActivation === "SIGMOID") {
    heat = new Float32Array(n);
    for (let i = 0; i < n; i++) heat[i] = 1 / (1 + Math.exp(-heads.center[i]));
  }
  const centers = findInstanceCenters(heat, H, W, o.centerThreshold, o.nmsKernel, o.topK);

  // Instance index per pixel: 0 = none, k + 1 = centers[k].
  const instance = new Int32Array(n);
  const K = centers.length;
  if (K > 0) {
    const cy = Float64Array.from(centers, (c) => c.y);
    const cx = Float64Array.from(centers, (c) => c.x);
    const [dyPlane, dxPlane] = o.offsetOrder === "YX" ? [0, n] : [n, 0];
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = y * W + x;
        if (!thingClasses.has(semantic[i])) continue;
        const py = y + heads.offsets[dyPlane + i];
        const px = x + heads.offsets[dxPlane + i];
        let best = 0;
        let bestD = Infinity;
        for (let k = 0; k < K; k++) {
          const dy = cy[k] - py;
          const dx = cx[k] - px;
          const d = dy * dy + dx * dx;
          if (d < bestD) {
            bestD = d;
            best = k;
          }
        }
        instance[i] = best + 1;
      }
    }
  }

  // Majority class per instance (class histogram per instance) and stuff areas.
  let numClasses = 0;
  for (let i = 0; i < n; i++) if (semantic[i] >= numClasses) numClasses = semantic[i] + 1;
  const votes = new Int32Array((K + 1) * numClasses);
  const stuffArea = new Int32Array(numClasses);
  for (let i = 0; i < n; i++) {
    if (instance[i] > 0) votes[instance[i] * numClasses + semantic[i]]++;
    else if (!thingClasses.has(semantic[i])) stuffArea[semantic[i]]++;
  }
  const instanceValue = new Int32Array(K + 1).fill(PANOPTIC_VOID);
  const perClassCount = new Int32Array(numClasses);
  for (let k = 1; k <= K; k++) {
    let area = 0;
    let cls = -1;
    let most = 0;
    for (let c = 0; c < numClasses; c++) {
      const v = votes[k * numClasses + c];
      area += v;
      if (v > most) {
        most = v;
        cls = c;
      }
    }
    if (area === 0 || area < o.thingArea) continue;
    perClassCount[cls]++;
    instanceValue[k] = cls * o.labelDivisor + perClassCount[cls];
    if (perClassCount[cls] >= o.labelDivisor) throw badInput(`class ${cls} has ${perClassCount[cls]} instances, which does not fit labelDivisor ${o.labelDivisor}`, "inference.postprocess.labelDivisor");
  }

  const panoptic = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = semantic[i];
    if (instance[i] > 0) panoptic[i] = instanceValue[instance[i]];
    else if (thingClasses.has(c)) panoptic[i] = PANOPTIC_VOID;
    else panoptic[i] = stuffArea[c] >= o.stuffArea ? c * o.labelDivisor : PANOPTIC_VOID;
  }
  return { panoptic, semantic, centers };
}
