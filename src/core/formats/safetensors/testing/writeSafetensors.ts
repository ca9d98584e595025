import { DTYPE_BYTES } from "../../../structure/types";
import { compareCodePoints } from "../safetensorsLayerOrder";
import { OFFICIAL_DTYPE_RANK, SAFETENSORS_DTYPES } from "../safetensorsDtypes";

/**
 * A safetensors writer for tests: it writes tensors in exactly the order given, so tests can make
 * both forward-ordered files and files ordered as the official writer orders them
 * (`officialOrder`). Written independently of the reader: header entries are built as plain
 * objects and `JSON.stringify`ed (so integer-like names such as "0" come first in the header's
 * key order; their storage order is still the order given).
 */
export interface TestTensor {
  name: string;
  /** A safetensors dtype name ("F32", "BF16", "I64", …). */
  dtype: string;
  shape: number[];
  /** Little-endian bytes; when absent, a deterministic byte pattern of the right size. */
  data?: Uint8Array;
}

export interface WriteSafetensorsOptions {
  metadata?: Record<string, string>;
  /** Zero bytes left between consecutive tensors: the format forbids gaps, so this makes corrupt files. */
  gapBytes?: number;
}

export function writeSafetensors(tensors: readonly TestTensor[], options: WriteSafetensorsOptions = {}): Uint8Array {
  const gap = options.gapBytes ?? 0;
  const header: Record<string, unknown> = {};
  if (options.metadata !== undefined) header.__metadata__ = options.metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  tensors.forEach((t, index) => {
    const data = t.data ?? patternBytes(byteLength(t), index);
    if (index > 0 && gap > 0) { chunks.push(new Uint8Array(gap)); offset += gap; }
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + data.byteLength] };
    chunks.push(data);
    offset += data.byteLength;
  });
  const data = new Uint8Array(offset);
  let at = 0;
  for (const c of chunks) { data.set(c, at); at += c.byteLength; }
  return assembleSafetensors(JSON.stringify(header), data);
}

/**
 * The order the official writer stores tensors in: dtype (widest first, by its enum order), then
 * name in byte order.
 */
export function officialOrder<T extends { name: string; dtype: string }>(tensors: readonly T[]): T[] {
  return [...tensors].sort((a, b) => (OFFICIAL_DTYPE_RANK[b.dtype] ?? -1) - (OFFICIAL_DTYPE_RANK[a.dtype] ?? -1) || compareCodePoints(a.name, b.name));
}

/** 8-byte little-endian length + the header text padded with spaces to a multiple of 8 + data. */
export function assembleSafetensors(headerText: string, data: Uint8Array, pad = true): Uint8Array {
  let header = Buffer.from(headerText, "utf8");
  if (pad && header.byteLength % 8 !== 0) {
    header = Buffer.concat([header, Buffer.alloc(8 - (header.byteLength % 8), 0x20)]);
  }
  const out = new Uint8Array(8 + header.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.byteLength), true);
  out.set(header, 8);
  out.set(data, 8 + header.byteLength);
  return out;
}

export function byteLength(t: { dtype: string; shape: number[] }): number {
  const dtype = SAFETENSORS_DTYPES.get(t.dtype);
  if (dtype === undefined) throw new Error(`test writer: give data for dtype ${t.dtype}`);
  return t.shape.reduce((p, d) => p * d, 1) * DTYPE_BYTES[dtype];
}

function patternBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let k = 0; k < length; k++) out[k] = (k * 31 + seed * 7 + 1) & 0xff;
  return out;
}
