import { badInput, invariant } from "../../errors";
import { DTYPE_BYTES, type TensorInfo } from "../../structure/types";
import type { ByteSource } from "../byteSource";
import { ProtoReader } from "../protobuf/protoReader";

/**
 * The tensor's data as little-endian bytes of its dtype (elements × width), whatever its ONNX
 * encoding: raw_data, external data, or a typed field (float_data, double_data, int32_data holding
 * fp16/bf16 bits or small integers, int64_data, uint64_data). The merge engine reads through this.
 *
 * Returns a fresh buffer owned by the caller (byteOffset 0, so typed-array views are aligned).
 *
 * @param openExternal opens external data files by the relative path in the location (see
 *   `openExternalData(modelFolder)`); required only for tensors with `location.file`.
 */
export function readTensorBytes(source: ByteSource, tensor: TensorInfo, openExternal?: (relativePath: string) => ByteSource): Uint8Array {
  const loc = tensor.location;
  if (loc.kind === "raw") {
    let from = source;
    if (loc.file !== undefined) {
      if (!openExternal) throw badInput(`tensor "${tensor.name}" is stored in external file "${loc.file}"; reading it needs the model's folder`);
      from = openExternal(loc.file);
    }
    const out = new Uint8Array(loc.length);
    const CHUNK = 64 << 20;
    for (let at = 0; at < loc.length; at += CHUNK) out.set(from.read(loc.offset + at, Math.min(CHUNK, loc.length - at)), at);
    return out;
  }
  const width = loc.encoding === "fixed32" ? 4 : loc.encoding === "fixed64" ? 8 : DTYPE_BYTES[tensor.dtype];
  if (width === 0) throw badInput(`tensor "${tensor.name}" of dtype ${tensor.dtype} cannot be read as bytes`);
  const out = new Uint8Array(loc.count * width);
  const view = new DataView(out.buffer);
  let index = 0;
  const put = (r: ProtoReader) => {
    invariant(index < loc.count, `tensor "${tensor.name}" holds more typed values than its location's count`);
    if (loc.encoding === "varint") {
      if (width === 8) view.setBigUint64(index * 8, r.readVarintBigInt(), true);
      else {
        const v = r.readVarint() | 0;
        for (let b = 0; b < width; b++) out[index * width + b] = (v >>> (8 * b)) & 0xff;
      }
    } else {
      out.set(r.readFixed(width), index * width);
    }
    index++;
  };
  for (const range of loc.ranges) {
    const r = new ProtoReader(source, range.offset, range.offset + range.length, `${loc.field} of tensor "${tensor.name}"`);
    if (range.packed) {
      while (!r.atEnd) put(r);
      continue;
    }
    // Unpacked: consecutive (tag, value) records of the same field.
    while (!r.atEnd) {
      r.readVarint();
      put(r);
    }
  }
  if (index !== loc.count) throw badInput(`tensor "${tensor.name}" has ${index} values in ${loc.field}, expected ${loc.count}`);
  return out;
}
