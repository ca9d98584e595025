import {
  ConfusionMatrix,
  PanopticQuality,
  panopticFromLabelMap,
  postprocessPanopticDeepLab,
  resizeBilinear,
  resizeNearest,
  resizeOffsets,
  type ClassIdArray,
  type DatasetClass,
  type DatasetSample,
  type PanopticPostprocessOptions,
} from "../core/eval";
import { badInput } from "../core/errors";
import { fastResizeArgmax, resizeArgmaxRows } from "./fastResizeArgmax";
import type { FloatMap, IdMap } from "./readHeadOutputs";

/**
 * Turns one image's predictions into label-resolution maps and adds them to the split's metrics:
 * a confusion matrix always (panoptic models get mIoU of their semantic part too) and, for
 * PANOPTIC, panoptic quality against the COCO ground truth.
 */
export class SampleScorer {
  readonly cm: ConfusionMatrix;
  readonly pq: PanopticQuality | null;
  private readonly things: ReadonlySet<number>;
  private readonly postprocess: Partial<PanopticPostprocessOptions>;
  private readonly labelDivisor: number;
  /** addLogits' (label, prediction) histogram, reused across images. */
  private pairs: Uint32Array | null = null;

  constructor(readonly numClasses: number, ignoreIndex: number, classes: readonly DatasetClass[], panoptic: boolean, postprocess: Partial<PanopticPostprocessOptions>, private readonly modelPath: string) {
    this.cm = new ConfusionMatrix(numClasses, ignoreIndex);
    this.pq = panoptic ? new PanopticQuality(classes.map((c) => ({ id: c.id, isThing: c.isThing }))) : null;
    this.things = new Set(classes.filter((c) => c.isThing).map((c) => c.id));
    this.postprocess = postprocess;
    this.labelDivisor = postprocess.labelDivisor ?? 1000;
  }

  /** Logits [C, h, w] covering the whole (resized) image go to label resolution before argmax, as mmsegmentation compares predictions at label resolution. */
  addLogits(sample: DatasetSample, logits: FloatMap): void {
    const { data, channels, height, width } = logits;
    const label = sample.label;
    if (!(label instanceof Uint8Array) || channels > 256 || label.length !== sample.height * sample.width) {
      this.addSemantic(sample, fastResizeArgmax(data, channels, height, width, sample.height, sample.width));
      return;
    }
    // 8-bit labels and classes: each label-resolution row is counted into a (label, prediction)
    // histogram as it is produced, with no full-size prediction map and no per-pixel range checks
    // (the histogram's label values are checked once, when it is folded into the matrix).
    const pairs = (this.pairs ??= new Uint32Array(65536));
    pairs.fill(0);
    const W = sample.width;
    // Labels and predictions come in runs (regions): a run's pixels are counted in a local and
    // added at its end, not incremented one by one in memory (each increment waits on the last).
    // Four pixels at a time where both rows are 4-byte aligned: a group of four that continues
    // the run is one comparison of each.
    const label32 = (label.byteOffset & 3) === 0 && (W & 3) === 0 ? new Uint32Array(label.buffer, label.byteOffset, label.length >> 2) : null;
    let rowBuffer: ArrayBufferLike | null = null;
    let row32: Uint32Array | null = null;
    resizeArgmaxRows(data, channels, height, width, sample.height, W, (oy, row) => {
      const o = oy * W;
      let r32: Uint32Array | null = null;
      if (label32 && (row.byteOffset & 3) === 0) {
        if (rowBuffer !== row.buffer || row32!.byteOffset !== row.byteOffset) {
          rowBuffer = row.buffer;
          row32 = new Uint32Array(row.buffer, row.byteOffset, W >> 2);
        }
        r32 = row32;
      }
      let key = (label[o] << 8) | row[0];
      let l4 = (key >> 8) * 0x01010101;
      let p4 = (key & 255) * 0x01010101;
      let run = 0;
      for (let x = 0; x < W; ) {
        if (r32 !== null && (x & 3) === 0 && label32![(o + x) >> 2] === l4 && r32[x >> 2] === p4) {
          run += 4;
          x += 4;
          continue;
        }
        const k = (label[o + x] << 8) | row[x];
        if (k === key) run++;
        else {
          pairs[key] += run;
          key = k;
          run = 1;
          l4 = (k >> 8) * 0x01010101;
          p4 = (k & 255) * 0x01010101;
        }
        x++;
      }
      pairs[key] += run;
    });
    this.cm.addPairs8(pairs, sample.labelPath);
  }

  addIds(sample: DatasetSample, ids: IdMap): void {
    this.addSemantic(sample, resizeNearest(ids.data, ids.height, ids.width, sample.height, sample.width));
  }

  /** PANOPTIC_IDS: class · labelDivisor + instance, negative = void (a void pixel counts as a miss for mIoU). */
  addPanopticIds(sample: DatasetSample, ids: IdMap, outputName: string): void {
    const map = resizeNearest(ids.data, ids.height, ids.width, sample.height, sample.width);
    const semantic = new Int32Array(map.length);
    for (let i = 0; i < map.length; i++) {
      const v = map[i];
      const c = v < 0 ? -1 : Math.floor(v / this.labelDivisor);
      if (c >= this.numClasses) {
        throw badInput(`model ${this.modelPath}: output "${outputName}" (PANOPTIC_IDS) holds ${v} for ${sample.name}, class ${c} with labelDivisor ${this.labelDivisor}, but the dataset has ${this.numClasses} classes`, "inference.postprocess.labelDivisor", { output: outputName });
      }
      semantic[i] = c;
    }
    this.addSemantic(sample, semantic);
    if (this.pq) this.addPanoptic(sample, map);
  }

  /**
   * Panoptic-DeepLab heads are brought to label resolution (semantic by fastResizeArgmax, the center
   * heatmap bilinearly, offsets bilinearly with their values rescaled) and post-processed there.
   */
  addDeepLab(sample: DatasetSample, semantic: FloatMap, center: FloatMap, offset: FloatMap): void {
    const H = sample.height;
    const W = sample.width;
    const classIds: ClassIdArray = fastResizeArgmax(semantic.data, semantic.channels, semantic.height, semantic.width, H, W);
    const heat = resizeBilinear(center.data, 1, center.height, center.width, H, W);
    const offsets = resizeOffsets(offset.data, offset.height, offset.width, H, W, this.postprocess.offsetOrder ?? "YX");
    const result = postprocessPanopticDeepLab({ height: H, width: W, semantic: { classIds }, center: heat, offsets }, this.things, this.postprocess);
    this.addSemantic(sample, result.semantic);
    if (this.pq) this.addPanoptic(sample, result.panoptic);
  }

  private addSemantic(sample: DatasetSample, pred: ClassIdArray): void {
    this.cm.add(pred, sample.label, sample.label.length, sample.labelPath);
  }

  private addPanoptic(sample: DatasetSample, map: Int32Array): void {
    if (sample.kind !== "panoptic") throw badInput(`${sample.labelPath} has no panoptic ground truth; PANOPTIC evaluation needs a COCO_PANOPTIC dataset`, "dataset.format");
    this.pq!.addImage(sample.panoptic, panopticFromLabelMap(map, { labelDivisor: this.labelDivisor }), sample.name);
  }
}
