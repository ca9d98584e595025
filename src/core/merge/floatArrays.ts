import * as os from "node:os";
import { invariant } from "../errors";

/** The working precision of a merge: float32, or float64 for F64 anchors. */
export type FloatArray = Float32Array | Float64Array;

/**
 * Tensor bytes are little-endian in both formats (ONNX raw_data, safetensors); the fast paths
 * view them as typed arrays, which use the host's byte order.
 */
export const HOST_IS_LITTLE_ENDIAN = os.endianness() === "LE";

/** A typed-array view of `bytes` when aligned, else an aligned copy. Never mutate the result. */
export function viewAs<T extends Float32Array | Float64Array | Uint16Array | Uint32Array>(
  bytes: Uint8Array,
  ctor: { new (buffer: ArrayBufferLike, byteOffset: number, length: number): T; BYTES_PER_ELEMENT: number },
): T {
  invariant(HOST_IS_LITTLE_ENDIAN, "tensor codecs assume a little-endian host");
  const width = ctor.BYTES_PER_ELEMENT;
  invariant(bytes.byteLength % width === 0, `byte length ${bytes.byteLength} is not a multiple of ${width}`);
  if (bytes.byteOffset % width === 0) return new ctor(bytes.buffer, bytes.byteOffset, bytes.byteLength / width);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new ctor(copy.buffer, 0, bytes.byteLength / width);
}
