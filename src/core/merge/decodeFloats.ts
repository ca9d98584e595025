import { badInput } from "../errors";
import type { DType } from "../structure/types";
import { DTYPE_BYTES } from "../structure/types";
import { f16BitsToFloat } from "./halfPrecision";
import { FloatArray, viewAs } from "./floatArrays";

let f16Table: Float32Array | undefined;
let bf16Table: Float32Array | undefined;

/** All 65536 fp16 values, built once (256 KiB): decoding becomes one lookup per element. */
export function f16Lookup(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToFloat(h);
  }
  return f16Table;
}

/**
 * All 65536 bf16 values (256 KiB). JavaScript cannot reinterpret bits as a float without a
 * typed-array round trip, so a lookup lets kernels decode and accumulate in one pass.
 */
export function bf16Lookup(): Float32Array {
  if (!bf16Table) {
    bf16Table = new Float32Array(65536);
    new Uint32Array(bf16Table.buffer).forEach((_, h, bits) => (bits[h] = h << 16));
  }
  return bf16Table;
}

function checkLength(bytes: Uint8Array, dtype: DType): number {
  const width = DTYPE_BYTES[dtype];
  if (dtype !== "F32" && dtype !== "F64" && dtype !== "F16" && dtype !== "BF16") {
    throw badInput(`cannot decode ${dtype} tensor data as floats: only F64, F32, F16 and BF16 are mergeable`);
  }
  if (bytes.byteLength % width !== 0) {
    throw badInput(`${bytes.byteLength} bytes are not a whole number of ${dtype} elements`);
  }
  return bytes.byteLength / width;
}

/**
 * Little-endian tensor bytes → values in `out` (float32 or float64). fp16 and bf16 decode
 * exactly; F64 into a Float32Array rounds to nearest even (the typed-array conversion).
 */
export function decodeInto(bytes: Uint8Array, dtype: DType, out: FloatArray): void {
  const n = checkLength(bytes, dtype);
  if (out.length !== n) throw badInput(`expected ${out.length} ${dtype} elements, got ${n}`);
  switch (dtype) {
    case "F32":
      out.set(viewAs(bytes, Float32Array));
      return;
    case "F64":
      out.set(viewAs(bytes, Float64Array));
      return;
    case "F16": {
      const table = f16Lookup();
      const halves = viewAs(bytes, Uint16Array);
      for (let i = 0; i < n; i++) out[i] = table[halves[i]];
      return;
    }
    case "BF16": {
      // bf16 is the upper half of a float32: widen bits, then reinterpret.
      const halves = viewAs(bytes, Uint16Array);
      if (out instanceof Float32Array) {
        const bits = new Uint32Array(out.buffer, out.byteOffset, n);
        for (let i = 0; i < n; i++) bits[i] = halves[i] << 16;
      } else {
        const one = new Float32Array(1);
        const oneBits = new Uint32Array(one.buffer);
        for (let i = 0; i < n; i++) {
          oneBits[0] = halves[i] << 16;
          out[i] = one[0];
        }
      }
      return;
    }
  }
}

/** Tensor bytes → Float32Array. For F32 data that is aligned this is a view: do not mutate it. */
export function decodeToFloat32(bytes: Uint8Array, dtype: DType): Float32Array {
  if (dtype === "F32") {
    checkLength(bytes, dtype);
    return viewAs(bytes, Float32Array);
  }
  const out = new Float32Array(checkLength(bytes, dtype));
  decodeInto(bytes, dtype, out);
  return out;
}

/** Tensor bytes → Float64Array (exact for every floating dtype). */
export function decodeToFloat64(bytes: Uint8Array, dtype: DType): Float64Array {
  const out = new Float64Array(checkLength(bytes, dtype));
  decodeInto(bytes, dtype, out);
  return out;
}
