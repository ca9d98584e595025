import { invariant } from "../errors";
import { PanopticQuality } from "../eval/metrics/PanopticQuality";
import type { PanopticCategory, PanopticImage } from "../eval/metrics/panopticTypes";
import type { ImageStats } from "./imageStats";

/** Per class id c < classes: ΣIoU, TP, FP, FN at 4c … 4c + 3. */
export function panopticStatsLength(classes: number): number {
  return 4 * classes;
}

/**
 * One image's panoptic quality sums per class, matched as evaluation matches them (COCO
 * panopticapi's rules, PanopticQuality): summed over images they are the split's sums, from which
 * panopticQualityOf gives evaluation's PQ. `categories` are the dataset's classes.
 */
export function panopticStats(gt: PanopticImage, pred: PanopticImage, categories: readonly PanopticCategory[], classes: number, name?: string): ImageStats {
  const pq = new PanopticQuality(categories).addImage(gt, pred, name);
  const out = new Float64Array(panopticStatsLength(classes));
  for (const c of categories) {
    invariant(c.id >= 0 && c.id < classes, `panopticStats: class ${c.id} outside [0, ${classes})`);
    const s = pq.statsOf(c.id)!;
    out.set([s.iou, s.tp, s.fp, s.fn], 4 * c.id);
  }
  return out;
}

/** PQ from summed panopticStats: the mean over classes with TP + FP + FN > 0 of ΣIoU / (TP + ½FP + ½FN); 0 over none. */
export function panopticQualityOf(total: ImageStats, classes: number): number {
  let sum = 0;
  let n = 0;
  for (let c = 0; c < classes; c++) {
    const [iou, tp, fp, fn] = [total[4 * c], total[4 * c + 1], total[4 * c + 2], total[4 * c + 3]];
    if (tp + fp + fn > 0) {
      sum += iou / (tp + 0.5 * fp + 0.5 * fn);
      n++;
    }
  }
  return n > 0 ? sum / n : 0;
}
