import { badInput, invariant } from "../../errors";
import type { TensorInfo } from "../../structure/types";
import type { ByteSource } from "../byteSource";
import { isJsonObject, serializeHeaderJson, type JsonObject } from "./headerJson";
import { METADATA_KEY, readSafetensorsHeader, type SafetensorsHeader } from "./readSafetensorsHeader";

export interface ByteSink {
  /**
   * Takes the next bytes. The sink may still be reading `chunk` after this resolves (openFileSink
   * writes in the background), so chunks handed to it are never modified afterwards.
   */
  write(chunk: Uint8Array): Promise<void>;
}

/** What the replacement callback is told about a tensor (its place in the *anchor* file). */
export type SafetensorsTensorRef = Pick<TensorInfo, "name" | "dtype" | "shape" | "elements" | "location">;

export interface RewriteSafetensorsOptions {
  /** Names of the anchor's tensors whose bytes `getTensorBytes` supplies; every other tensor is copied. */
  replace: Iterable<string>;
  /**
   * The new little-endian bytes of one replaced tensor, exactly as long as the original. Called
   * once per replaced tensor, in storage order, never concurrently, so at most one merged tensor
   * is held at a time.
   */
  getTensorBytes(tensor: SafetensorsTensorRef): Promise<Uint8Array>;
  /** Optional: the same bytes in pieces, used instead of getTensorBytes (no tensor-sized buffer). */
  getTensorChunks?(tensor: SafetensorsTensorRef): AsyncIterable<Uint8Array>;
  /**
   * Entries to add to `__metadata__` (the merge record). A key already present keeps its place
   * and takes the new value. Without it the anchor's header is kept byte for byte.
   */
  metadata?: Readonly<Record<string, string>>;
  /** Size of the copy chunks for unchanged data. */
  chunkBytes?: number;
}

export interface RewriteResult {
  bytesWritten: number;
  headerLength: number;
}

/** Large copy chunks keep the number of sink writes (and syscalls) low on multi-GB files. */
const DEFAULT_CHUNK_BYTES = 8 << 20;

/**
 * Writes the merge output for a safetensors anchor: the anchor's header (order,
 * metadata and unknown fields kept) and its data section with the replaced tensors' bytes
 * swapped in. Data offsets are unchanged (the reader has checked that the tensors cover the data
 * section exactly), and the same inputs always give the same bytes.
 */
export async function rewriteSafetensors(source: ByteSource, options: RewriteSafetensorsOptions, sink: ByteSink): Promise<RewriteResult> {
  const header = readSafetensorsHeader(source);
  const byName = new Map(header.entries.map((e) => [e.name, e]));
  const replaced = [];
  for (const name of new Set(options.replace)) {
    const entry = byName.get(name);
    if (entry === undefined) throw badInput(`cannot replace tensor ${JSON.stringify(name)}: the anchor file has no such tensor`);
    replaced.push(entry);
  }
  replaced.sort((a, b) => a.begin - b.begin || a.end - b.end);
  const chunkBytes = Math.max(1, options.chunkBytes ?? DEFAULT_CHUNK_BYTES);

  const headerBytes = rewrittenHeader(source, header, options.metadata);
  await sink.write(headerBytes);
  let written = headerBytes.byteLength;
  const copy = async (from: number, to: number): Promise<void> => {
    for (let at = from; at < to; at += chunkBytes) {
      const chunk = source.read(header.dataStart + at, Math.min(chunkBytes, to - at));
      await sink.write(chunk);
      written += chunk.byteLength;
    }
  };

  let cursor = 0;
  for (const e of replaced) {
    await copy(cursor, e.begin);
    const ref: SafetensorsTensorRef = {
      name: e.name, dtype: e.dtype, shape: e.shape, elements: e.elements,
      location: { kind: "raw", offset: header.dataStart + e.begin, length: e.end - e.begin },
    };
    const pieces = options.getTensorChunks ? options.getTensorChunks(ref) : [await options.getTensorBytes(ref)];
    let length = 0;
    for await (const bytes of pieces) {
      length += bytes.byteLength;
      invariant(length <= e.end - e.begin, `replacement for tensor ${JSON.stringify(e.name)} has more than ${e.end - e.begin} bytes, the anchor's size`);
      await sink.write(bytes);
    }
    invariant(length === e.end - e.begin, `replacement for tensor ${JSON.stringify(e.name)} has ${length} bytes, the anchor's has ${e.end - e.begin}`);
    written += length;
    cursor = Math.max(cursor, e.end);
  }
  await copy(cursor, header.dataLength);
  return { bytesWritten: written, headerLength: headerBytes.byteLength - 8 };
}

/** The output's size, for plans made before writing (`mergePlan`). */
export function rewrittenSafetensorsSize(source: ByteSource, metadata?: Readonly<Record<string, string>>): number {
  const header = readSafetensorsHeader(source);
  return rewrittenHeader(source, header, metadata).byteLength + header.dataLength;
}

/** Length field + header: the anchor's own bytes, or a deterministic re-serialisation. */
function rewrittenHeader(source: ByteSource, header: SafetensorsHeader, metadata: Readonly<Record<string, string>> | undefined): Uint8Array {
  const added = metadata === undefined ? [] : Object.entries(metadata);
  if (added.length === 0) return Uint8Array.from(source.read(0, header.dataStart));
  for (const [key, value] of added) {
    if (typeof value !== "string") throw badInput(`merge metadata ${JSON.stringify(key)} must be a string`);
  }
  const json: JsonObject = new Map();
  const existing = header.json.get(METADATA_KEY);
  const merged: JsonObject = new Map(isJsonObject(existing) ? existing : []);
  for (const [key, value] of added) merged.set(key, value);
  // The official writer puts __metadata__ first; where the anchor has it elsewhere, it stays there.
  if (!header.json.has(METADATA_KEY)) json.set(METADATA_KEY, merged);
  for (const [key, value] of header.json) json.set(key, key === METADATA_KEY ? merged : value);
  const text = Buffer.from(serializeHeaderJson(json), "utf8");
  // Spec: the header may be padded with spaces; 8-byte padding keeps tensor data aligned.
  const length = Math.ceil(text.byteLength / 8) * 8;
  const out = new Uint8Array(8 + length).fill(0x20, 8);
  new DataView(out.buffer).setBigUint64(0, BigInt(length), true);
  out.set(text, 8);
  return out;
}
