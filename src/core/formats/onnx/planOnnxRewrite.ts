import { badInput } from "../../errors";
import type { ParsedModel, TensorInfo } from "../../structure/types";
import type { ByteSource } from "../byteSource";
import { checkExternalLocation } from "./externalData";
import type { ByteRange, OnnxModelRecord, OnnxTensorRecord } from "./onnxModelRecord";
import { readOnnxModel } from "./readOnnxModel";
import { prefixEdits } from "./rewriteLayout";

/** How one tensor's bytes change in the output. */
export type RewriteSite =
  /** raw_data (or fixed-width typed values) of the same length, overwritten in place. */
  | { kind: "in-place"; tensor: TensorInfo; record: OnnxTensorRecord }
  /** Varint typed values (int32_data holding fp16 bits…): re-encoded, so lengths change. */
  | { kind: "varint"; tensor: TensorInfo; record: OnnxTensorRecord }
  /**
   * External data, inlined as raw_data (replaced or not): the output is one self-contained
   * artifact in a content-addressed store, which cannot carry side files.
   */
  | { kind: "inline-external"; tensor: TensorInfo; record: OnnxTensorRecord; replaced: boolean; remove: ByteRange[] };

export interface OnnxRewritePlan {
  readonly source: ByteSource;
  /** In file order. */
  readonly sites: readonly RewriteSite[];
  /** ModelProto.metadata_props entries whose keys the new metadata replaces. */
  readonly removedMetadata: readonly ByteRange[];
  /** Appended as ModelProto.metadata_props, keys sorted so equal recipes give equal bytes. */
  readonly metadata: ReadonlyArray<[string, string]>;
  readonly openExternal?: (relativePath: string) => ByteSource;
  /**
   * Output size in bytes: exact when `sizeIsExact`; when a replaced tensor uses varint typed
   * values its encoded length depends on the values, and this counts the original encoding.
   */
  readonly outputSize: number;
  readonly sizeIsExact: boolean;
}

/** ONNX (protobuf) messages cannot exceed 2 GiB; past it onnxruntime refuses to load the file. */
export const MAX_INLINE_MODEL_BYTES = 2 ** 31 - 1;

/**
 * Plans the merge output: the anchor's file with only the named tensors' data
 * replaced, external data inlined, and metadata_props entries added. Reads headers only.
 *
 * @param parsed parseOnnx's result for the same source (replaced tensors are its TensorInfos)
 * @param replacedNames listed tensors whose data getTensorBytes will supply
 * @param options.openExternal opens the anchor's external data files (see openExternalData)
 * @param options.records readOnnxModel's result for this same source, read before (else read here)
 */
export function planOnnxRewrite(
  source: ByteSource,
  parsed: ParsedModel,
  replacedNames: ReadonlySet<string>,
  extraMetadata: Readonly<Record<string, string>>,
  options: { openExternal?: (relativePath: string) => ByteSource; records?: OnnxModelRecord } = {},
): OnnxRewritePlan {
  const model = options.records ?? readOnnxModel(source);
  const listed = new Map(parsed.tensors.map((t) => [t.name, t]));
  for (const name of replacedNames) if (!listed.has(name)) throw badInput(`cannot replace tensor "${name}": the model does not list it`);

  const sites: RewriteSite[] = [];
  const changes: Array<{ record: OnnxTensorRecord; delta: number }> = [];
  let sizeIsExact = true;
  for (const record of model.tensors) {
    const info = listed.get(record.name);
    const replaced = replacedNames.has(record.name);
    const d = record.data;
    if (d.kind === "external") {
      const tensor = info ?? externalInfo(record, options.openExternal);
      if (info && (info.location.kind !== "raw" || info.location.offset !== d.offset)) throw badInput(`the parsed structure does not match this file (tensor "${record.name}")`);
      const length = tensor.location.kind === "raw" ? tensor.location.length : 0;
      const removed = d.fields.reduce((s, r) => s + r.end - r.start, 0);
      changes.push({ record, delta: 1 + varintBytes(length) + length - removed });
      sites.push({ kind: "inline-external", tensor, record, replaced, remove: d.fields });
      continue;
    }
    if (!replaced || !info) continue;
    if (d.kind === "none") throw badInput(`tensor "${record.name}" has no data to replace`);
    const matches = d.kind === "raw" ? info.location.kind === "raw" && info.location.offset === d.offset : info.location.kind === "typed" && info.location.ranges[0]?.offset === d.ranges[0]?.offset;
    if (!matches) throw badInput(`the parsed structure does not match this file (tensor "${record.name}")`);
    if (d.kind === "typed" && d.encoding === "varint") {
      sites.push({ kind: "varint", tensor: info, record });
      sizeIsExact = false;
    } else sites.push({ kind: "in-place", tensor: info, record });
  }
  // A set, not a scan of the sites per name: a model has hundreds to thousands of tensors.
  const sited = new Set(sites.map((s) => s.tensor.name));
  for (const name of replacedNames) if (!sited.has(name)) throw badInput(`tensor "${name}" is not a constant tensor of this model`);

  let outputSize = source.size + prefixEdits(changes).delta;
  const keys = Object.keys(extraMetadata).sort();
  for (const k of keys) if (k === "") throw badInput("metadata keys must not be empty");
  const removedMetadata = model.metadataProps.filter((e) => Object.prototype.hasOwnProperty.call(extraMetadata, e.key)).map((e) => e.range);
  const metadata = keys.map((k): [string, string] => [k, extraMetadata[k]]);
  outputSize -= removedMetadata.reduce((s, r) => s + r.end - r.start, 0);
  outputSize += metadata.reduce((s, [k, v]) => s + metadataEntrySize(k, v), 0);
  if (outputSize > MAX_INLINE_MODEL_BYTES) {
    throw badInput(`the merged model would be ${outputSize} bytes with its external data inlined, over ONNX's 2 GiB protobuf limit`);
  }
  return { source, sites, removedMetadata, metadata, openExternal: options.openExternal, outputSize, sizeIsExact };
}

function externalInfo(record: OnnxTensorRecord, openExternal: ((p: string) => ByteSource) | undefined): TensorInfo {
  const d = record.data;
  if (d.kind !== "external") throw badInput(`tensor "${record.name}" is not external`);
  const file = checkExternalLocation(d.location, `tensor "${record.name}"`);
  if (!openExternal) throw badInput(`tensor "${record.name}" keeps its data in "${file}"; rewriting the model needs its folder`);
  const length = d.length ?? openExternal(file).size - d.offset;
  return { name: record.name, shape: record.dims, dtype: record.type.dtype, elements: record.elements, mergeable: false, layerIndex: -1, group: "", location: { kind: "raw", file, offset: d.offset, length } };
}

export function metadataEntrySize(key: string, value: string): number {
  const k = Buffer.byteLength(key);
  const v = Buffer.byteLength(value);
  const inner = 1 + varintBytes(k) + k + 1 + varintBytes(v) + v;
  return 1 + varintBytes(inner) + inner;
}

function varintBytes(n: number): number {
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}
