/** Segment id 0 is void, as in COCO panopticapi (`VOID = 0`). */
export const PANOPTIC_VOID_ID = 0;

/** One segment of a panoptic image (COCO `segments_info` entry, category mapped to a class id). */
export interface PanopticSegment {
  /** Segment id as it appears in the id map; positive (0 is void). */
  id: number;
  /** Class id (the model's output channel). */
  categoryId: number;
  /** Crowd regions (COCO `iscrowd: 1`) never count as false negatives; see panopticQuality. */
  iscrowd?: boolean;
}

/** A panoptic image: a per-pixel segment-id map (0 = void) and the segments it contains. */
export interface PanopticImage {
  ids: Int32Array | Uint32Array;
  segments: readonly PanopticSegment[];
}

export interface PanopticCategory {
  id: number;
  isThing: boolean;
}
