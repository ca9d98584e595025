import type { DatasetSpec, ImageDecoder, PqAverage } from "../core/eval";
import type { TaskKind } from "../domain/enums";
import type { RuntimeContract } from "./runtimeContract";

export type EvaluationTask = `${TaskKind}`;

export interface EvaluateModelOptions {
  /** An .onnx file (external data beside it, as onnxruntime resolves it). */
  modelPath: string;
  contract: RuntimeContract;
  dataset: DatasetSpec;
  task: EvaluationTask;
  /** Evaluate the first `limit` pairs of the split (index order). */
  limit?: number;
  /** Images (or SLIDE windows) per session.run; default 1. Falls back to 1 for models whose batch dimension is fixed to 1. */
  batchSize?: number;
  /** Class ids averaged into mIoU (UDA subset protocols, e.g. SYNTHIA → Cityscapes 16/13); per-class values cover all classes. */
  classes?: readonly number[];
  /** onnxruntime intra-op threads; default os.availableParallelism() − 1 (at least 1). See sessionThreads. */
  threads?: number;
  /** Let onnxruntime's intra-op threads busy-wait between parallel sections (default false; see sessionThreads). */
  allowSpinning?: boolean;
  /** Called after every image: images done, images in total, estimated milliseconds left. */
  onProgress?: (done: number, total: number, etaMs: number | null) => void;
  signal?: AbortSignal;
  /** Default: FastPngDecoder (plain 8-bit PNGs decoded on the evaluation's thread, anything else by sharp). */
  decoder?: ImageDecoder;
  /** Decoded samples kept ahead of inference (default 2). */
  prefetchDepth?: number;
}

export interface PerClassScore {
  classId: number;
  name: string;
  isThing: boolean;
  /** IoU from the split's confusion matrix; null when the class has an empty union. */
  iou: number | null;
  /** Pixel accuracy TP / GT; null without ground-truth pixels. */
  acc: number | null;
  /** PANOPTIC: null when TP + FP + FN = 0. */
  pq?: number | null;
  sq?: number | null;
  rq?: number | null;
  tp?: number;
  fp?: number;
  fn?: number;
}

/** JSON-ready; every score is an unrounded fraction (0.523, shown as 52.3 %). */
export interface EvaluationMetrics {
  /** Over `classes` when given, else over every class with a non-empty union; null when none has one. */
  mIoU: number | null;
  aAcc: number | null;
  mAcc: number | null;
  /** Classes that entered mIoU. */
  nClasses: number;
  /** Counted (non-ignored) label pixels. */
  pixels: number;
  /** The subset mIoU was averaged over, when one was asked for. */
  classSubset: number[] | null;
  /** PANOPTIC only. */
  pq?: { all: PqAverage; things: PqAverage; stuff: PqAverage };
}

export interface EvaluationSettings {
  batchSize: number;
  intraOpNumThreads: number;
  interOpNumThreads: number;
  executionMode: "sequential" | "parallel";
  allowSpinning: boolean;
  /** The outputs that were fetched and how they were read. */
  outputs: string[];
}

export interface EvaluationResult {
  task: EvaluationTask;
  /** The task's metric: mIoU (SEMANTIC) or PQ over all classes (PANOPTIC), as a fraction. */
  score: number;
  metrics: EvaluationMetrics;
  perClass: PerClassScore[];
  images: number;
  durationMs: number;
  settings: EvaluationSettings;
  /** Things a person should know about how the run went (e.g. the batch size fell back to 1). */
  notes: string[];
}
