import { badInput } from "../../errors";
import { ConfusionMatrix } from "./ConfusionMatrix";

export interface MeanIoUOptions {
  /**
   * Class ids to average over (e.g. the 16 or 13 classes of the SYNTHIA → Cityscapes protocol).
   * Default: all classes. Per-class values are still reported for every class.
   */
  classes?: readonly number[];
}

export interface MeanIoUResult {
  /** Mean IoU over the selected classes whose union TP+FP+FN is non-empty; null when none is. */
  mIoU: number | null;
  /** IoU per class id; null when the class has an empty union. */
  perClass: (number | null)[];
  /** Accuracy TP/GT per class id; null when the class has no ground-truth pixels. */
  perClassAcc: (number | null)[];
  /** Overall pixel accuracy over all counted (non-ignored) pixels; null when there are none. */
  aAcc: number | null;
  /** Mean of perClassAcc over the selected classes with ground-truth pixels; null when none has. */
  mAcc: number | null;
  /** Number of selected classes that entered mIoU. */
  nClasses: number;
  /** Counted (non-ignored) pixels. */
  pixels: number;
}

/**
 * mIoU, aAcc and mAcc from a confusion matrix (docs/CONVENTIONS.md, Metrics; mmsegmentation's
 * `total_area_to_metrics` with nanmean). Scores are unrounded fractions.
 *
 * aAcc is over every counted pixel whatever the class subset: the subset protocols change which
 * classes are averaged, not which pixels were labelled.
 */
export function meanIoU(cm: ConfusionMatrix, options: MeanIoUOptions = {}): MeanIoUResult {
  const n = cm.numClasses;
  const stride = n + 1;
  const gtArea = new Float64Array(n);
  const predArea = new Float64Array(n);
  const tp = new Float64Array(n);
  let total = 0;
  let correct = 0;
  for (let g = 0; g < n; g++) {
    for (let p = 0; p <= n; p++) {
      const c = cm.counts[g * stride + p];
      gtArea[g] += c;
      if (p < n) predArea[p] += c;
      total += c;
    }
    tp[g] = cm.counts[g * stride + g];
    correct += tp[g];
  }

  const perClass: (number | null)[] = [];
  const perClassAcc: (number | null)[] = [];
  for (let c = 0; c < n; c++) {
    const union = gtArea[c] + predArea[c] - tp[c];
    perClass.push(union > 0 ? tp[c] / union : null);
    perClassAcc.push(gtArea[c] > 0 ? tp[c] / gtArea[c] : null);
  }

  const selected = options.classes ?? perClass.map((_, i) => i);
  const seen = new Set<number>();
  for (const [i, c] of selected.entries()) {
    if (!Number.isInteger(c) || c < 0 || c >= n) throw badInput(`class ${c} is not in [0, ${n})`, `classes.${i}`);
    if (seen.has(c)) throw badInput(`class ${c} is listed twice`, `classes.${i}`);
    seen.add(c);
  }

  let iouSum = 0;
  let iouN = 0;
  let accSum = 0;
  let accN = 0;
  for (const c of selected) {
    const iou = perClass[c];
    if (iou !== null) {
      iouSum += iou;
      iouN++;
    }
    const acc = perClassAcc[c];
    if (acc !== null) {
      accSum += acc;
      accN++;
    }
  }
  return {
    mIoU: iouN > 0 ? iouSum / iouN : null,
    perClass,
    perClassAcc,
    aAcc: total > 0 ? correct / total : null,
    mAcc: accN > 0 ? accSum / accN : null,
    nClasses: iouN,
    pixels: total,
  };
}
