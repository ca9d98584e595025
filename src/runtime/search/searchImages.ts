import { randomUUID } from "node:crypto";
import { DomainError } from "../../core/errors";
import { readDataset, readImages, type DatasetSpec, type ImageDecoder, type PanopticCategory, type PanopticSegment } from "../../core/eval";

/** One decoded image, its pixels in a SharedArrayBuffer: every candidate's thread reads the same memory. */
export interface SharedImage {
  /** Names this image of this loaded set (the set's id and its position), for caches on other threads. */
  id: string;
  name: string;
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
  /** Class ids at the image's size (labelled datasets only), ignoreIndex where not evaluated. */
  label?: Uint8Array | Uint16Array;
  /** COCO_PANOPTIC datasets: the ground truth's segment-id map at the image's size and its segments (PQ). */
  panoptic?: { ids: Int32Array; segments: PanopticSegment[] };
}

export interface SearchImageSet {
  images: SharedImage[];
  ignoreIndex: number;
  /** The dataset's classes as panoptic categories (which are things), for PQ. */
  categories: PanopticCategory[];
}

function share<T extends Uint8Array | Uint16Array | Int32Array>(src: T): T {
  const out = new (src.constructor as new (b: SharedArrayBuffer) => T)(new SharedArrayBuffer(src.byteLength));
  out.set(src);
  return out;
}

/**
 * The first `limit` images of a dataset (listing order), decoded once for a whole search and
 * kept in shared memory; with `labels` their class maps too (SCORE and audit datasets).
 */
export async function loadSearchImages(spec: DatasetSpec, decoder: ImageDecoder, limit: number, labels: boolean, signal?: AbortSignal): Promise<SearchImageSet> {
  const images: SharedImage[] = [];
  const setId = randomUUID();
  const check = () => {
    if (signal?.aborted) throw new DomainError("CANCELLED", "cancelled");
  };
  if (labels) {
    for await (const s of readDataset(spec, decoder, { limit })) {
      check();
      const panoptic = s.kind === "panoptic" ? { ids: share(s.panoptic.ids), segments: s.panoptic.segments } : undefined;
      images.push({ id: `${setId}/${images.length}`, name: s.name, width: s.width, height: s.height, channels: s.image.channels, data: share(s.image.data), label: share(s.label), ...(panoptic ? { panoptic } : {}) });
    }
  } else {
    for await (const s of readImages(spec, decoder, { limit })) {
      check();
      images.push({ id: `${setId}/${images.length}`, name: s.name, width: s.width, height: s.height, channels: s.image.channels, data: share(s.image.data) });
    }
  }
  return { images, ignoreIndex: spec.ignoreIndex ?? 255, categories: spec.classes.map((c) => ({ id: c.id, isThing: c.isThing })) };
}
