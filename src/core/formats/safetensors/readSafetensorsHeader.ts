import { badInput } from "../../errors";
import { DTYPE_BYTES, type DType } from "../../structure/types";
import type { ByteSource } from "../byteSource";
import { isJsonObject, JsonNumberText, JsonSyntaxError, parseHeaderJson, type JsonObject, type JsonValue } from "./headerJson";
import { SAFETENSORS_DTYPES } from "./safetensorsDtypes";

/**
 * The same bound as the reference implementation (`MAX_HEADER_SIZE = 100_000_000`): a length
 * field beyond it is corruption or an attack, and reading it would allocate that much.
 */
export const MAX_HEADER_BYTES = 100_000_000;

/** The reserved key holding free-form string→string metadata (spec: `__metadata__`). */
export const METADATA_KEY = "__metadata__";

export interface SafetensorsEntry {
  name: string;
  dtype: DType;
  shape: number[];
  elements: number;
  /** `data_offsets`, relative to the start of the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** N, the header's byte length as stored in the first 8 bytes. */
  headerLength: number;
  /** 8 + N: where the data section starts in the file. */
  dataStart: number;
  dataLength: number;
  /** The header object in file order, unknown fields included (the merge writer keeps them). */
  json: JsonObject;
  metadata: Array<[string, string]>;
  /** Tensor entries in header order, validated. */
  entries: SafetensorsEntry[];
}

/**
 * Reads and validates a safetensors header (8-byte little-endian length, UTF-8 JSON object).
 * Every caller mistake in the file is a `badInput` naming the tensor at fault; nothing outside
 * the header is read.
 */
export function readSafetensorsHeader(source: ByteSource): SafetensorsHeader {
  if (source.size < 8) {
    throw badInput(`not a safetensors file: ${source.size} bytes is shorter than the 8-byte header length field`);
  }
  const lengthBytes = source.read(0, 8);
  const view = new DataView(lengthBytes.buffer, lengthBytes.byteOffset, 8);
  const low = view.getUint32(0, true);
  const high = view.getUint32(4, true);
  const headerLength = high * 2 ** 32 + low;
  if (high !== 0 || headerLength > MAX_HEADER_BYTES) {
    throw badInput(`not a safetensors file: the header length field says ${headerLength} bytes, above the ${MAX_HEADER_BYTES}-byte limit`);
  }
  if (headerLength > source.size - 8) {
    throw badInput(`truncated safetensors file: the header length field says ${headerLength} bytes but only ${source.size - 8} follow it`);
  }
  if (headerLength < 2) {
    throw badInput(`not a safetensors file: a ${headerLength}-byte header cannot hold a JSON object`);
  }
  const headerBytes = source.read(8, headerLength);
  // Spec: "the header data MUST begin with a { character" and "MAY be trailingly padded with
  // whitespace (0x20)": after the object's closing brace only spaces may follow.
  if (headerBytes[0] !== 0x7b) {
    throw badInput("not a safetensors file: the header does not start with '{'");
  }
  let last = headerLength - 1;
  while (last > 0 && headerBytes[last] === 0x20) last--;
  if (headerBytes[last] !== 0x7d) {
    throw badInput(`corrupt safetensors header: file bytes [${8 + last}, ${8 + last + 1}) follow the header's JSON object; only spaces (0x20) may pad it`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    throw badInput("corrupt safetensors header: it is not valid UTF-8");
  }
  let parsed: JsonValue;
  try {
    parsed = parseHeaderJson(text);
  } catch (error) {
    if (error instanceof JsonSyntaxError) throw badInput(`corrupt safetensors header: ${error.message}`);
    throw error;
  }
  if (!isJsonObject(parsed)) throw badInput("corrupt safetensors header: the header is not a JSON object");

  const dataStart = 8 + headerLength;
  const dataLength = source.size - dataStart;
  const metadata: Array<[string, string]> = [];
  const entries: SafetensorsEntry[] = [];
  for (const [name, value] of parsed) {
    if (name === METADATA_KEY) {
      readMetadata(value, metadata);
      continue;
    }
    entries.push(readEntry(name, value, dataLength));
  }
  checkCoverage(entries, dataStart, dataLength);
  return { headerLength, dataStart, dataLength, json: parsed, metadata, entries };
}

function readMetadata(value: JsonValue, into: Array<[string, string]>): void {
  if (!isJsonObject(value)) throw badInput(`corrupt safetensors header: "${METADATA_KEY}" must be an object of strings`);
  for (const [key, v] of value) {
    if (typeof v !== "string") {
      throw badInput(`corrupt safetensors header: "${METADATA_KEY}" entry ${JSON.stringify(key)} must be a string, found ${describe(v)}`);
    }
    into.push([key, v]);
  }
}

function readEntry(name: string, value: JsonValue, dataLength: number): SafetensorsEntry {
  const at = `tensor ${JSON.stringify(name)}`;
  if (!isJsonObject(value)) throw badInput(`corrupt safetensors header: ${at} must be an object with dtype, shape and data_offsets`);
  const dtypeName = value.get("dtype");
  if (typeof dtypeName !== "string") throw badInput(`corrupt safetensors header: ${at} has no dtype string`);
  const dtype = SAFETENSORS_DTYPES.get(dtypeName);
  if (dtype === undefined) {
    throw badInput(`unsupported safetensors dtype ${JSON.stringify(dtypeName)} for ${at}; supported: ${[...SAFETENSORS_DTYPES.keys()].join(", ")}`);
  }
  const shapeValue = value.get("shape");
  if (!Array.isArray(shapeValue)) throw badInput(`corrupt safetensors header: ${at} has no shape array`);
  const shape: number[] = [];
  let elements = 1;
  for (const dim of shapeValue) {
    if (typeof dim !== "number" || !Number.isSafeInteger(dim) || dim < 0) {
      throw badInput(`corrupt safetensors header: ${at} has shape ${JSON.stringify(shapeValue)}; dimensions must be non-negative integers`);
    }
    shape.push(dim);
    elements *= dim;
  }
  const offsets = value.get("data_offsets");
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => typeof o === "number" && Number.isSafeInteger(o) && o >= 0)) {
    throw badInput(`corrupt safetensors header: ${at} needs data_offsets [begin, end] of non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw badInput(`corrupt safetensors header: ${at} has data_offsets [${begin}, ${end}] that end before they begin`);
  if (end > dataLength) {
    throw badInput(`corrupt safetensors file: ${at} has data_offsets [${begin}, ${end}] beyond the ${dataLength}-byte data section (truncated file?)`);
  }
  // `elements` may have lost precision if the dims are absurd, but then it exceeds the data
  // section by far and the size check below refuses it anyway.
  const expected = elements * DTYPE_BYTES[dtype];
  if (end - begin !== expected) {
    throw badInput(`corrupt safetensors header: ${at} (${dtypeName} ${JSON.stringify(shape)}) needs ${expected} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
  }
  return { name, dtype, shape, elements, begin, end };
}

/**
 * The spec's rule that "the byte buffer needs to be entirely indexed, and cannot contain holes":
 * sorted by offsets, the first tensor begins at 0, each begins where the previous one ended (an
 * empty tensor sits at that running end) and the last ends at the end of the file. Bytes spliced
 * into or appended to a file break it, so such a file is refused rather than read at shifted
 * offsets. The error names the first offending byte range, in data-section offsets and in the
 * file.
 */
function checkCoverage(entries: readonly SafetensorsEntry[], dataStart: number, dataLength: number): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  const range = (from: number, to: number) => `data bytes [${from}, ${to}) (file bytes [${dataStart + from}, ${dataStart + to}))`;
  let running = 0;
  let previous: SafetensorsEntry | undefined;
  for (const e of sorted) {
    if (e.begin > running) {
      const after = previous ? `after tensor ${JSON.stringify(previous.name)}` : "at the start of the data section";
      throw badInput(
        `corrupt safetensors file: ${range(running, e.begin)} ${after} belong to no tensor (the next, ${JSON.stringify(e.name)}, begins at ${e.begin}); tensors must cover the data section without gaps`,
        undefined,
        { byteRange: [dataStart + running, dataStart + e.begin], tensors: [...(previous ? [previous.name] : []), e.name] },
      );
    }
    if (e.begin < running && e.end === e.begin) {
      throw badInput(
        `corrupt safetensors file: empty tensor ${JSON.stringify(e.name)} sits at data offset ${e.begin} (file byte ${dataStart + e.begin}), inside tensor ${JSON.stringify(previous!.name)} [${previous!.begin}, ${previous!.end}); an empty tensor must sit where the previous tensor ends`,
        undefined,
        { byteRange: [dataStart + e.begin, dataStart + running], tensors: [previous!.name, e.name] },
      );
    }
    if (e.begin < running) {
      throw badInput(
        `corrupt safetensors file: ${range(e.begin, Math.min(e.end, running))} belong to both tensor ${JSON.stringify(previous!.name)} [${previous!.begin}, ${previous!.end}) and tensor ${JSON.stringify(e.name)} [${e.begin}, ${e.end}); tensors must not overlap`,
        undefined,
        { byteRange: [dataStart + e.begin, dataStart + Math.min(e.end, running)], tensors: [previous!.name, e.name] },
      );
    }
    running = e.end;
    previous = e;
  }
  if (running < dataLength) {
    const after = previous ? `after the last tensor, ${JSON.stringify(previous.name)},` : "with no tensor in the header";
    throw badInput(
      `corrupt safetensors file: ${range(running, dataLength)} ${after} belong to no tensor; the last tensor must end at the end of the file`,
      undefined,
      { byteRange: [dataStart + running, dataStart + dataLength], tensors: previous ? [previous.name] : [] },
    );
  }
}

function describe(v: JsonValue): string {
  if (v === null) return "null";
  if (v instanceof JsonNumberText) return `number ${v.text}`;
  if (Array.isArray(v)) return "an array";
  if (isJsonObject(v)) return "an object";
  return `${typeof v} ${JSON.stringify(v)}`;
}
