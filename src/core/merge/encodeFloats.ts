import { badInput, invariant } from "../errors";
import type { DType } from "../structure/types";
import { F16_MIN_NORMAL_AS_F32, F32_EXPONENT_MASK, F32_TO_F16_REBIAS, f32BitsToBf16Bits, f32BitsToF16Bits } from "./halfPrecision";
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
      const out = new Uint16Array(n);
      encodeHalfInto(f32, dtype, out);
      return new Uint8Array(out.buffer);
    }
    default:
      throw badInput(`cannot encode floats as ${dtype}: only F64, F32, F16 and BF16 are mergeable`);
  }
}

/**
 * float32 values → fp16 / bf16 bits in `out` (same length), round-to-nearest-even, exactly as
 * f32BitsToF16Bits / f32BitsToBf16Bits. Returns true when some result is ±Inf or NaN, so the
 * merge executor checks overflow without a second pass.
 *
 * The loop is the hot path of 16-bit merges: bits are read as int32 (V8 keeps them unboxed,
 * where uint32 values above 2^31 are not), and the normal-range rounding is branch-free, because
 * the round-up decision depends on random low mantissa bits and would mispredict half the time.
 * Zeros, subnormals, Inf and NaN take the scalar codec.
 */
export function encodeHalfInto(values: Float32Array, dtype: "F16" | "BF16", out: Uint16Array): boolean {
  const n = values.length;
  invariant(out.length === n, `encodeHalfInto: ${n} values into ${out.length} slots`);
  const bits = new Int32Array(values.buffer, values.byteOffset, n);
  let flags = 0;
  if (dtype === "F16") {
    for (let i = 0; i < n; i++) {
      const b = bits[i];
      const abs = b & 0x7fffffff;
      let h: number;
      if (abs >= F16_MIN_NORMAL_AS_F32 && abs < F32_EXPONENT_MASK) {
        // Rebias (127 → 15), keep 10 mantissa bits; adding 0xfff plus the kept lsb carries
        // exactly when the dropped 13 bits are above half, or at half with an odd lsb.
        h = (abs - F32_TO_F16_REBIAS + 0xfff + ((abs >>> 13) & 1)) >>> 13;
        if (h > 0x7c00) h = 0x7c00;
        h |= (b >>> 16) & 0x8000;
      } else {
        h = f32BitsToF16Bits(b >>> 0, values[i]);
      }
      out[i] = h;
      // (h & 0x7fff) ≥ 0x7c00, i.e. an all-ones exponent, sets bit 15 of the sum.
      flags |= (h & 0x7fff) + 0x400;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const b = bits[i];
      const h = (b & 0x7fffffff) > F32_EXPONENT_MASK ? f32BitsToBf16Bits(b >>> 0) : ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
      out[i] = h;
      flags |= (h & 0x7fff) + 0x80;
    }
  }
  return (flags & 0x8000) !== 0;
}

/** True when some float32 value is ±Inf or NaN (one branch-free pass over the bits). */
export function anyNonFinite32(values: Float32Array): boolean {
  const bits = new Int32Array(values.buffer, values.byteOffset, values.length);
  let flags = 0;
  // An all-ones exponent carries into bit 31 when 2^23 is added to the magnitude.
  for (let i = 0; i < bits.length; i++) flags |= (bits[i] & 0x7fffffff) + 0x00800000;
  return (flags & 0x80000000) !== 0;
}

/** The float32 → bytes conversion of a merge's results, rounded to the anchor's dtype. */
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
