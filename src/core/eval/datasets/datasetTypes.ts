import { PanopticSegment } from "../metrics/panopticTypes";
import { DecodedImage } from "./ImageDecoder";

/**
 * On-disk layouts of a dataset split (`Dataset.format`): defined here, where they are read;
 * the registry's vocabulary (domain/enums.ts) and the GraphQL enum take this object. IMAGES has
 * no labels (label-free criteria only).
 */
export const DatasetFormat = Object.freeze({ SEMANTIC_PNG: "SEMANTIC_PNG", CITYSCAPES: "CITYSCAPES", COCO_PANOPTIC: "COCO_PANOPTIC", IMAGES: "IMAGES" } as const);
export type DatasetFormat = (typeof DatasetFormat)[keyof typeof DatasetFormat];

export interface DatasetClass {
  /** The model's output channel. */
  id: number;
  name: string;
  isThing: boolean;
  /** The id used in the dataset's files when it differs from `id` (e.g. a Cityscapes labelId). */
  datasetId?: number | null;
}

export interface DatasetSpec {
  format: DatasetFormat;
  /** The dataset folder. */
  location: string;
  classes: readonly DatasetClass[];
  /** Label value that is not evaluated (default 255). */
  ignoreIndex?: number;
  /** CITYSCAPES: the sub-folder of leftImg8bit/ and gtFine/ (default "val"). */
  split?: string;
}

/** A problem with one file (path relative to the dataset location; "." for the dataset itself). */
export interface DatasetProblem {
  file: string;
  message: string;
}

/** One image/label pair (or a lone image of an IMAGES split), by paths relative to the dataset location. */
export interface DatasetEntry {
  /** Stable sample name: the pair's key (relative path without extension / COCO file stem). */
  name: string;
  image: string;
  /** null for IMAGES, which has no labels. */
  label: string | null;
  /** COCO_PANOPTIC: the annotation's segments, categories mapped to class ids. */
  segments?: PanopticSegment[];
}

export interface DatasetIndex {
  entries: DatasetEntry[];
  /** Every file the dataset consists of (pairs and metadata), relative, sorted. */
  files: string[];
  problems: DatasetProblem[];
}

/** Label class map: class ids, `ignoreIndex` where not evaluated. */
export type LabelMap = Uint8Array | Uint16Array;

export interface SemanticSample {
  kind: "semantic";
  name: string;
  imagePath: string;
  labelPath: string;
  image: DecodedImage;
  width: number;
  height: number;
  label: LabelMap;
}

export interface PanopticSample {
  kind: "panoptic";
  name: string;
  imagePath: string;
  labelPath: string;
  image: DecodedImage;
  width: number;
  height: number;
  /** Segment-id map (R + 256·G + 256²·B, 0 = void) and its segments (class ids). */
  panoptic: { ids: Int32Array; segments: PanopticSegment[] };
  /** Per-pixel class ids of the segments (crowd included), ignoreIndex on void, for mIoU. */
  label: LabelMap;
}

export type DatasetSample = SemanticSample | PanopticSample;
