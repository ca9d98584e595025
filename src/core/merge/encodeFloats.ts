import { badInput } from "../errors";
import type { DType } from "../structure/types";
import { f32BitsToBf16Bits, f32BitsToF16Bits } from "./halfPrecision";
import { FloatArray, viewAs } from "./floatArrays";

/**
 * Values → little-endian bytes of `dtype`, rounding to nearest even (IEEE 754 default): F16 and
 * BF16 from the float32 values, F32 from float64 values by the typed-array conversion. Overflow
 * gives ±Inf and NaN stays NaN; callers that must not write non-finite values check the result
 * with `countNonFinite`.
 */
export function encodeFromFloats(values: FloatArray, dtype: DType): Uint8Array {
  const n = values.length;
  switch (dtype) {
    case "F32": {
      if (values instanceof Float32Array) {
        return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
      }
      return new Uint8Array(Float32Array.from(values).buffer);
    }
    case "F64":
      return new Uint8Array(Float64Array.from(values).buffer);
    case "F16":
    case "BF16": {
      // Half formats round from float32: a float64 input is first rounded to float32, which is
      // how a float32-precision merge would hold it (F64 anchors never reach here).
      const f32 = values instanceof Float32Array ? values : Float32Array.from(values);
      const bits = new Uint32Array(f32.buffer, f32.byteOffset, n);
      const out = new Uint16Array(n);
      if (dtype === "F16") {
        for (let i = 0; i < n; i++) out[i] = f32BitsToF16Bits(bits[i], f32[i]);
      } else {
        for (let i = 0; i < n; i++) out[i] = f32BitsToBf16Bits(bits[i]);
      }
      return new Uint8Array(out.buffer);
    }
    default:
      throw badInput(`cannot encode floats as ${dtype}: only F64, F32, F16 and BF16 are mergeable`);
  }
}

/** The float32 → bytes conversion named in issue 4. */
export function encodeFromFloat32(values: Float32Array, dtype: DType): Uint8Array {
  return encodeFromFloats(values, dtype);
}

/** Number of ±Inf or NaN elements in encoded bytes of a floating dtype. */
export function countNonFinite(bytes: Uint8Array, dtype: DType): number {
  let count = 0;
  if (dtype === "F16" || dtype === "BF16") {
    const halves = viewAs(bytes, Uint16Array);
    const exponent = dtype === "F16" ? 0x7c00 : 0x7f80;
    for (let i = 0; i < halves.length; i++) if ((halves[i] & exponent) === exponent) count++;
    return count;
  }
  const values = dtype === "F64" ? viewAs(bytes, Float64Array) : viewAs(bytes, Float32Array);
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) count++;
  return count;
}
