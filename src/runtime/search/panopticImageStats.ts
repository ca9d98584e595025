import { badInput } from "../../core/errors";
import { panopticFromLabelMap, postprocessPanopticDeepLab, resizeBilinear, resizeOffsets, type PanopticCategory, type PanopticPostprocessOptions } from "../../core/eval";
import { panopticStats, type ImageStats } from "../../core/search";
import { fastResizeArgmax } from "../fastResizeArgmax";
import type { SharedImage } from "./searchImages";
import type { DeepLabHeads } from "./searchSession";

/**
 * One image's panoptic quality sums from a Panoptic-DeepLab model's heads, computed as evaluation
 * computes them (SampleScorer): heads brought to label resolution (semantic by fastResizeArgmax,
 * center bilinearly, offsets bilinearly with their values rescaled), post-processed there, and
 * matched against the COCO ground truth.
 */
export function panopticImageStats(img: SharedImage, heads: DeepLabHeads, categories: readonly PanopticCategory[], classes: number, postprocess: PanopticPostprocessOptions): ImageStats {
  if (!img.panoptic) throw badInput(`${img.name} has no panoptic ground truth; PQ needs a COCO_PANOPTIC dataset`, "dataset.format");
  const H = img.height;
  const W = img.width;
  const { semantic, center, offset } = heads;
  const classIds = fastResizeArgmax(semantic.data, semantic.channels, semantic.height, semantic.width, H, W);
  const heat = resizeBilinear(center.data, 1, center.height, center.width, H, W);
  const offsets = resizeOffsets(offset.data, offset.height, offset.width, H, W, postprocess.offsetOrder ?? "YX");
  const things = new Set(categories.filter((c) => c.isThing).map((c) => c.id));
  const result = postprocessPanopticDeepLab({ height: H, width: W, semantic: { classIds }, center: heat, offsets }, things, postprocess);
  const pred = panopticFromLabelMap(result.panoptic, { labelDivisor: postprocess.labelDivisor ?? 1000 });
  return panopticStats(img.panoptic, pred, categories, classes, img.name);
}
