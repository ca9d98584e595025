import { badInput } from "../../errors";
import { PICKLE_LIMITS } from "./unpickle";
import { NumpyDtype, PickleDict, PickleGlobal, PickleSet, PickleTuple, StorageRef, TensorRef, type PickleValue } from "./pickleValues";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A checkpoint's `meta` is for people; more than this is cut (a note says so). */
const MAX_JSON_CHARS = 64 << 10;

/**
 * A pickled value as JSON for display (mmseg's `meta`: CLASSES, PALETTE, iteration, scores):
 * tuples and sets as arrays, numpy scalars as numbers, big integers as decimal strings, bytes
 * as their length, tensors as a short description. Non-finite floats become strings (JSON has
 * no NaN). Nesting beyond the pickle depth limit, and cycles, are refused.
 */
export function pickleToJson(value: PickleValue, depth = 0): Json {
  if (depth > PICKLE_LIMITS.depth) throw badInput(`the checkpoint's metadata is nested deeper than ${PICKLE_LIMITS.depth} (or refers to itself)`);
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
  if (Array.isArray(value)) return value.map((v) => pickleToJson(v, depth + 1));
  if (value instanceof PickleTuple) return value.items.map((v) => pickleToJson(v, depth + 1));
  if (value instanceof PickleSet) return value.items.map((v) => pickleToJson(v, depth + 1));
  if (value instanceof PickleDict) {
    const out: { [key: string]: Json } = {};
    for (const [k, v] of value.entries) out[typeof k === "string" ? k : JSON.stringify(pickleToJson(k as PickleValue, depth + 1))] = pickleToJson(v, depth + 1);
    return out;
  }
  if (value instanceof TensorRef) return `<tensor ${value.storage.dtype} [${value.shape.join(", ")}]>`;
  if (value instanceof StorageRef) return `<storage ${value.typeName}>`;
  if (value instanceof NumpyDtype) return `<numpy dtype ${value.descr}>`;
  if (value instanceof PickleGlobal) return `<${value.qualifiedName}>`;
  return null;
}

/** `meta` as JSON, cut to a display size: `{ truncated: true, text }` when too long. */
export function checkpointMetaJson(value: PickleValue): Json {
  const json = pickleToJson(value);
  const text = JSON.stringify(json);
  return text.length <= MAX_JSON_CHARS ? json : { truncated: true, text: text.slice(0, MAX_JSON_CHARS) };
}
