import { join } from "path";
import { badInput } from "../../errors";
import { ClassLookup } from "./classLookup";
import { DatasetEntry, DatasetFormat, DatasetSample, LabelMap } from "./datasetTypes";
import { DecodedImage, ImageDecoder } from "./ImageDecoder";

/**
 * Decodes one pair and turns its label into class ids. Every dataset error is a DomainError
 * naming the file: unreadable files, image and label sizes that differ, label values outside the
 * class list that are not the ignore index, panoptic ids missing from the JSON or vice versa.
 * With `probeImage` the image is only measured (validation), and `image` is left empty.
 */
export async function loadSample(location: string, format: DatasetFormat, entry: DatasetEntry, lookup: ClassLookup, decoder: ImageDecoder, probeImage = false): Promise<DatasetSample> {
  const rel = entry.label;
  if (rel === null) throw badInput(`${entry.image} has no label (${format} datasets are unlabelled)`, "dataset.format", { file: entry.image });
  const imagePath = join(location, entry.image);
  const labelPath = join(location, rel);
  const [image, label] = await Promise.all([
    readImage(decoder, imagePath, entry.image, probeImage),
    readImage(decoder, labelPath, rel, false),
  ]);
  if (image.width !== label.width || image.height !== label.height) {
    throw badInput(`${rel} is ${label.width}×${label.height} but its image ${entry.image} is ${image.width}×${image.height}`, undefined, { file: rel });
  }
  const base = { name: entry.name, imagePath, labelPath, image, width: image.width, height: image.height };
  if (format !== "COCO_PANOPTIC") return { kind: "semantic", ...base, label: semanticLabel(label, lookup, rel) };
  const ids = panopticIds(label, rel);
  const segments = entry.segments ?? [];
  return { kind: "panoptic", ...base, panoptic: { ids, segments }, label: panopticSemantic(ids, segments, lookup, rel) };
}

/** One image alone (IMAGES datasets, label-free criteria); errors name the file as loadSample's do. */
export async function loadImage(location: string, rel: string, decoder: ImageDecoder, probe = false): Promise<{ path: string; image: DecodedImage }> {
  const path = join(location, rel);
  return { path, image: await readImage(decoder, path, rel, probe) };
}

async function readImage(decoder: ImageDecoder, path: string, rel: string, probe: boolean): Promise<DecodedImage> {
  try {
    if (probe && decoder.probe) {
      const { width, height, channels } = await decoder.probe(path);
      return { width, height, channels, data: new Uint8Array(0) };
    }
    return await decoder.decode(path);
  } catch (e) {
    throw badInput(`${rel} cannot be decoded: ${(e as Error).message}`, undefined, { file: rel });
  }
}

function newLabelMap(lookup: ClassLookup, n: number): LabelMap {
  return lookup.wide ? new Uint16Array(n) : new Uint8Array(n);
}

function semanticLabel(img: DecodedImage, lookup: ClassLookup, rel: string): LabelMap {
  if (img.channels !== 1) {
    throw badInput(`${rel} has ${img.channels} channels; labels must be single-channel (greyscale, not palette) PNGs of class values`, undefined, { file: rel });
  }
  const n = img.width * img.height;
  const out = newLabelMap(lookup, n);
  const table = lookup.table8;
  let bad: Map<number, number> | undefined;
  /** Maps value j to its class; a value outside the class list is counted for the error instead. */
  const mapValue = (j: number): boolean => {
    const v = table[img.data[j]];
    if (v >= 0) {
      out[j] = v;
      return true;
    }
    bad ??= new Map();
    bad.set(img.data[j], (bad.get(img.data[j]) ?? 0) + 1);
    return false;
  };
  let i = 0;
  if (out instanceof Uint8Array && (img.data.byteOffset & 3) === 0) {
    // Labels come in runs: four values at a time, a group equal to the one before written as that
    // group's classes; any other group goes value by value.
    const src32 = new Uint32Array(img.data.buffer, img.data.byteOffset, n >> 2);
    const out32 = new Uint32Array(out.buffer, out.byteOffset, n >> 2);
    let last = -1;
    let lastOut = 0;
    for (let q = 0; q < src32.length; q++) {
      const w = src32[q];
      if (w === last) {
        out32[q] = lastOut;
        continue;
      }
      let ok = true;
      for (let j = q << 2, end = j + 4; j < end; j++) if (!mapValue(j)) ok = false;
      if (ok) {
        last = w;
        lastOut = out32[q];
      }
    }
    i = src32.length << 2;
  }
  for (; i < n; i++) mapValue(i);
  if (bad) {
    const list = [...bad].sort((a, b) => a[0] - b[0]).map(([v, c]) => `${v} (${c} px)`);
    throw badInput(`${rel} has label values outside the class list that are not the ignore index ${lookup.ignoreIndex}: ${list.slice(0, 10).join(", ")}${list.length > 10 ? ", …" : ""}`, undefined, { file: rel, values: [...bad.keys()] });
  }
  return out;
}

/** COCO panoptic PNG: id = R + 256·G + 256²·B (panopticapi `rgb2id`). */
function panopticIds(img: DecodedImage, rel: string): Int32Array {
  if (img.channels < 3) throw badInput(`${rel} has ${img.channels} channel(s); COCO panoptic PNGs are RGB`, undefined, { file: rel });
  const n = img.width * img.height;
  const ids = new Int32Array(n);
  const ch = img.channels;
  for (let i = 0; i < n; i++) {
    const o = i * ch;
    ids[i] = img.data[o] + 256 * img.data[o + 1] + 65536 * img.data[o + 2];
  }
  return ids;
}

function panopticSemantic(ids: Int32Array, segments: readonly { id: number; categoryId: number }[], lookup: ClassLookup, rel: string): LabelMap {
  const classOf = new Map(segments.map((s) => [s.id, s.categoryId]));
  const seen = new Set<number>();
  const out = newLabelMap(lookup, ids.length);
  let lastId = -1;
  let lastClass = lookup.ignoreIndex;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (id !== lastId) {
      lastId = id;
      if (id === 0) {
        lastClass = lookup.ignoreIndex;
      } else {
        const c = classOf.get(id);
        if (c === undefined) throw badInput(`${rel} contains segment id ${id} (pixel ${i}), which its segments_info does not list`, undefined, { file: rel });
        lastClass = c;
        seen.add(id);
      }
    }
    out[i] = lastClass;
  }
  for (const s of segments) {
    if (!seen.has(s.id)) throw badInput(`${rel}: segment ${s.id} of segments_info does not appear in the PNG`, undefined, { file: rel });
  }
  return out;
}
