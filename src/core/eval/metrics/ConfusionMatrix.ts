import { badInput, invariant } from "../../errors";

export type LabelArray = Uint8Array | Uint16Array | Int32Array;

/**
 * Pixel confusion matrix over a whole split: mIoU comes from one matrix, not a mean of per-image
 * scores (docs/CONVENTIONS.md, Metrics). Rows are ground-truth classes, columns predicted
 * classes, plus one extra column for predictions outside [0, numClasses): mmsegmentation's
 * `intersect_and_union` drops such predictions from the predicted areas but the pixel still counts
 * in its label's area, so it is a false negative for that class and a false positive for none.
 *
 * Counts are float64 so they stay exact to 2^53 pixels (a full Cityscapes val split is ~1e9).
 */
export class ConfusionMatrix {
  readonly numClasses: number;
  readonly ignoreIndex: number;
  /** Row-major [numClasses][numClasses + 1]; column numClasses = prediction out of range. */
  readonly counts: Float64Array;

  constructor(numClasses: number, ignoreIndex = 255) {
    if (!Number.isInteger(numClasses) || numClasses < 1) throw badInput(`numClasses must be a positive integer, got ${numClasses}`, "numClasses");
    if (!Number.isInteger(ignoreIndex)) throw badInput(`ignoreIndex must be an integer, got ${ignoreIndex}`, "ignoreIndex");
    if (ignoreIndex >= 0 && ignoreIndex < numClasses) {
      throw badInput(`ignoreIndex ${ignoreIndex} collides with class ${ignoreIndex} of ${numClasses}; use a value outside [0, ${numClasses})`, "ignoreIndex");
    }
    this.numClasses = numClasses;
    this.ignoreIndex = ignoreIndex;
    this.counts = new Float64Array(numClasses * (numClasses + 1));
  }

  /**
   * Adds `count` pixels (default: all of `label`). A label that is neither a class nor the ignore
   * index is a dataset error, reported with `source` (the label file) when given.
   */
  add(pred: LabelArray, label: LabelArray, count: number = label.length, source?: string): this {
    if (pred.length < count || label.length < count) {
      throw badInput(`prediction (${pred.length} px) and label (${label.length} px) must both hold ${count} pixels${source ? ` (${source})` : ""}`);
    }
    const n = this.numClasses;
    const stride = n + 1;
    const ignore = this.ignoreIndex;
    const counts = this.counts;
    for (let i = 0; i < count; i++) {
      const l = label[i];
      if (l === ignore) continue;
      if (l < 0 || l >= n) {
        throw badInput(
          `label value ${l} at pixel ${i} is neither a class in [0, ${n}) nor the ignore index ${ignore}${source ? ` in ${source}` : ""}`,
          undefined,
          { value: l, pixel: i, file: source },
        );
      }
      const p = pred[i];
      counts[l * stride + (p >= 0 && p < n ? p : n)] += 1;
    }
    return this;
  }

  /**
   * Adds a histogram of (label, prediction) pairs of 8-bit maps, `pairs[label · 256 + prediction]`
   * pixels — what `add` counts, gathered by a caller that never builds the prediction map (the
   * evaluation scores label-resolution rows as it resizes). A label value that is neither a class
   * nor the ignore index is a dataset error, reported with its pixel count and `source`.
   */
  addPairs8(pairs: Uint32Array, source?: string): this {
    if (pairs.length !== 65536) throw badInput(`a pair histogram of 8-bit maps has 65536 entries, got ${pairs.length}`);
    const n = this.numClasses;
    const stride = n + 1;
    for (let l = 0; l < 256; l++) {
      if (l === this.ignoreIndex) continue;
      const row = pairs.subarray(l << 8, (l + 1) << 8);
      if (l >= n) {
        const pixels = row.reduce((a, b) => a + b, 0);
        if (pixels > 0) throw badInput(`label value ${l} (${pixels} px) is neither a class in [0, ${n}) nor the ignore index ${this.ignoreIndex}${source ? ` in ${source}` : ""}`, undefined, { value: l, file: source });
        continue;
      }
      for (let p = 0; p < 256; p++) if (row[p] > 0) this.counts[l * stride + (p < n ? p : n)] += row[p];
    }
    return this;
  }

  /** Adds another matrix's counts (e.g. from another thread) into this one. */
  merge(other: ConfusionMatrix): this {
    if (other.numClasses !== this.numClasses || other.ignoreIndex !== this.ignoreIndex) {
      throw badInput(`cannot merge a ${other.numClasses}-class matrix (ignore ${other.ignoreIndex}) into a ${this.numClasses}-class one (ignore ${this.ignoreIndex})`);
    }
    invariant(other.counts.length === this.counts.length, "confusion matrix sizes agree");
    for (let i = 0; i < this.counts.length; i++) this.counts[i] += other.counts[i];
    return this;
  }

  /** Pixels of ground-truth class `gt` predicted as `pred` (pred = numClasses: out of range). */
  get(gt: number, pred: number): number {
    return this.counts[gt * (this.numClasses + 1) + pred];
  }

  /** Plain-JSON form for transfer between threads or to storage; inverse of `fromJSON`. */
  toJSON(): { numClasses: number; ignoreIndex: number; counts: number[] } {
    return { numClasses: this.numClasses, ignoreIndex: this.ignoreIndex, counts: Array.from(this.counts) };
  }

  static fromJSON(json: { numClasses: number; ignoreIndex: number; counts: number[] }): ConfusionMatrix {
    const cm = new ConfusionMatrix(json.numClasses, json.ignoreIndex);
    if (json.counts.length !== cm.counts.length) throw badInput(`confusion matrix counts must have ${cm.counts.length} entries, got ${json.counts.length}`, "counts");
    cm.counts.set(json.counts);
    return cm;
  }
}
