import type { ByteSource } from "../byteSource";
import { MAX_HEADER_BYTES } from "./readSafetensorsHeader";

/**
 * Cheap format sniffing for registration, which detects the format from the bytes, not the name:
 * a plausible little-endian header length followed by `{`. An ONNX file starts with a protobuf
 * field tag (0x08 for ir_version), so its bytes 8.. never pass both tests by accident in
 * practice; a positive answer still goes through the full, validating parse.
 */
export function isSafetensors(source: ByteSource): boolean {
  if (source.size < 10) return false;
  const head = source.read(0, 9);
  const view = new DataView(head.buffer, head.byteOffset, 9);
  const low = view.getUint32(0, true);
  const high = view.getUint32(4, true);
  return high === 0 && low >= 2 && low <= MAX_HEADER_BYTES && low <= source.size - 8 && head[8] === 0x7b;
}
