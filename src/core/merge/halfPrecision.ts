/**
 * Bit-level conversions between float32 and the two 16-bit float formats, with IEEE 754
 * round-to-nearest-even. Decoding is exact (every fp16 and bf16 value is a float32).
 *
 * Overflow follows IEEE: a float32 at or above the format's rounding threshold becomes ±Inf
 * (fp16: |x| >= 65520; bf16: above the largest finite bf16 plus half an ulp). The codecs stay
 * pure; whether an Inf result is acceptable is the merge executor's decision (it refuses it).
 */

export const F32_EXPONENT_MASK = 0x7f800000;
/** 127 - 15 = 112: the difference of the exponent biases, shifted into float32's exponent field. */
export const F32_TO_F16_REBIAS = 112 << 23;
/** float32 bits of 2^-14, the smallest normal fp16. */
export const F16_MIN_NORMAL_AS_F32 = 0x38800000;
const TWO_POW_24 = 16777216;

/** fp16 bits → float32 value (exact). */
export function f16BitsToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >>> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa / TWO_POW_24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

/**
 * float32 bits → fp16 bits, round-to-nearest-even. NaN stays NaN (quiet, top payload bits
 * kept), subnormal results are rounded in the subnormal grid of 2^-24.
 */
export function f32BitsToF16Bits(bits: number, value: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const abs = bits & 0x7fffffff;
  if (abs >= F32_EXPONENT_MASK) {
    return abs === F32_EXPONENT_MASK ? sign | 0x7c00 : sign | 0x7e00 | ((abs >>> 13) & 0x3ff);
  }
  if (abs < F16_MIN_NORMAL_AS_F32) {
    // |value| * 2^24 is exact in float64; its RNE integer is the subnormal mantissa (1024 carries
    // into the smallest normal, which is the right encoding too).
    const scaled = Math.abs(value) * TWO_POW_24;
    let m = Math.floor(scaled);
    const rest = scaled - m;
    if (rest > 0.5 || (rest === 0.5 && (m & 1) === 1)) m += 1;
    return sign | m;
  }
  // Normal: rebias the exponent, keep 10 of 23 mantissa bits; a carry out of the mantissa bumps
  // the exponent, and out of the largest exponent gives exactly Inf (0x7c00).
  let h = (abs - F32_TO_F16_REBIAS) >>> 13;
  const dropped = abs & 0x1fff;
  if (dropped > 0x1000 || (dropped === 0x1000 && (h & 1) === 1)) h += 1;
  if (h > 0x7c00) h = 0x7c00;
  return sign | h;
}

/** float32 bits → bf16 bits, round-to-nearest-even; NaN stays NaN (quiet bit set). */
export function f32BitsToBf16Bits(bits: number): number {
  if ((bits & 0x7fffffff) > F32_EXPONENT_MASK) return ((bits >>> 16) | 0x40) & 0xffff;
  const bias = 0x7fff + ((bits >>> 16) & 1);
  return ((bits + bias) >>> 16) & 0xffff;
}
