import { readDataset, readImages, type DatasetSpec, type ImageDecoder } from "../../core/eval";

/** One decoded image, its pixels in a SharedArrayBuffer: every candidate's thread reads the same memory. */
export interface SharedImage {
  name: string;
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
  /** Class ids at the image's size (labelled datasets only), ignoreIndex where not evaluated. */
  label?: Uint8Array | Uint16Array;
}

export interface SearchImageSet {
  images: SharedImage[];
  ignoreIndex: number;
}

function share<T extends Uint8Array | Uint16Array>(src: T): T {
  const out = new (src.constructor as new (b: SharedArrayBuffer) => T)(new SharedArrayBuffer(src.byteLength));
  out.set(src);
  return out;
}

/**
 * The first `limit` images of a dataset (listing order), decoded once for a whole search and
 * kept in shared memory; with `labels` their class maps too (SCORE and audit datasets).
 */
export async function loadSearchImages(spec: DatasetSpec, decoder: ImageDecoder, limit: number, labels: boolean): Promise<SearchImageSet> {
  const images: SharedImage[] = [];
  if (labels) {
    for await (const s of readDataset(spec, decoder, { limit })) {
      images.push({ name: s.name, width: s.width, height: s.height, channels: s.image.channels, data: share(s.image.data), label: share(s.label) });
    }
  } else {
    for await (const s of readImages(spec, decoder, { limit })) {
      images.push({ name: s.name, width: s.width, height: s.height, channels: s.image.channels, data: share(s.image.data) });
    }
  }
  return { images, ignoreIndex: spec.ignoreIndex ?? 255 };
}
