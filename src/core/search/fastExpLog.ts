/**
 * exp and log in float64 for the per-pixel softmax and entropy of the merge search's probability
 * statistics (imageStats.ts), within a few ulps of Math.exp / Math.log (relative error below
 * 1e-15 over the normal range; fastExpLog.test.ts checks them against Math.exp / Math.log).
 *
 * Why: a 512² image with 19 classes takes ~5 M exps, and V8's Math.exp is a call into C
 * (fdlibm) that costs several times the inlined arithmetic here; per pixel it was about as much
 * CPU as the segmentation network itself.
 *
 * exp: Tang's table method. x = (64·k + j)·ln2/64 + r with |r| ≤ ln2/128 (ln2/64 split in a
 * 32-bit head and a tail, so n·head is exact — Cody and Waite), exp(x) = 2^k · 2^(j/64) · p(r),
 * p the degree-6 Taylor polynomial (truncation below 3e-20 on that interval).
 * log: x = 2^e · m with m in [0.75, 1.5), c the nearest multiple of 1/256 to m (c = 1 around 1,
 * so log stays relatively accurate near 1), log x = e·ln2 + log c + log1p((m − c)/c), m − c
 * exact (Sterbenz), |(m − c)/c| < 2.7e-3 and log1p by its series to r⁸.
 * Outside the fast path's range (over/underflow, subnormals, zero, negatives, NaN, ±∞) both
 * defer to Math.
 */

const EXP_TABLE_BITS = 6;
const EXP_N = 1 << EXP_TABLE_BITS;
/** 2^(j/64), j = 0..63 (Math.pow is within an ulp). */
export const EXP_TABLE = Float64Array.from({ length: EXP_N }, (_, j) => Math.pow(2, j / EXP_N));
/** 2^k for k = −1022..1023, at k + 1022 (powers of two: exact). */
const POW2_OFFSET = 1022;
const POW2 = Float64Array.from({ length: 2046 }, (_, i) => Math.pow(2, i - POW2_OFFSET));
const INV_LN2_N = EXP_N / Math.LN2;
/** ln2 = LN2_HI + LN2_LO, LN2_HI with its low 32 mantissa bits zero (fdlibm's ln2_hi, ln2_lo). */
const LN2_HI = 6.93147180369123816490e-1;
const LN2_LO = 1.90821492927058770002e-10;
const LN2_HI_N = LN2_HI / EXP_N;
const LN2_LO_N = LN2_LO / EXP_N;
/** 1.5 · 2^52: adding and subtracting it rounds a double below 2^51 to the nearest integer. */
const ROUND = 6755399441055744;
/** exp(x) is a normal double for x in this range (2^k with k ≥ −1021 in POW2). */
const EXP_MIN = -707;
const EXP_MAX = 709;

const C2 = 1 / 2;
const C3 = 1 / 6;
const C4 = 1 / 24;
const C5 = 1 / 120;
const C6 = 1 / 720;

/** e^x, within a few ulps of Math.exp. */
export function fastExp(x: number): number {
  if (!(x >= EXP_MIN && x <= EXP_MAX)) return Math.exp(x);
  const nd = x * INV_LN2_N + ROUND - ROUND;
  const n = nd | 0;
  const r = x - nd * LN2_HI_N - nd * LN2_LO_N;
  const p = 1 + r * (1 + r * (C2 + r * (C3 + r * (C4 + r * (C5 + r * C6)))));
  return POW2[(n >> EXP_TABLE_BITS) + POW2_OFFSET] * (EXP_TABLE[n & (EXP_N - 1)] * p);
}

const LOG_STEPS = 256;
/** c = 1 + i/256 for m in [0.75, 1.5): i = −64..128, at i + 64. */
const LOG_OFFSET = LOG_STEPS / 4;
export const LOG_C = Float64Array.from({ length: LOG_OFFSET + LOG_STEPS / 2 + 1 }, (_, i) => 1 + (i - LOG_OFFSET) / LOG_STEPS);
export const LOG_INV_C = LOG_C.map((c) => 1 / c);
export const LOG_OF_C = LOG_C.map((c) => Math.log(c));
const SMALLEST_NORMAL = 2.2250738585072014e-308;

const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer);
/** The index of a double's high word (sign, exponent, top of the mantissa) in `words`. */
const HI = (() => {
  bits[0] = 1; // 0x3ff00000_00000000
  return words[1] === 0x3ff00000 ? 1 : 0;
})();

/** log(x), within a few ulps of Math.log. */
export function fastLog(x: number): number {
  if (!(x >= SMALLEST_NORMAL && x < Infinity)) return Math.log(x);
  bits[0] = x;
  const hi = words[HI];
  let e = (hi >>> 20) - 1023;
  // m in [1, 2) with x's mantissa; above 1.5 it is halved (and e raised) into [0.75, 1.5).
  words[HI] = (hi & 0x000fffff) | 0x3ff00000;
  let m = bits[0];
  if (m >= 1.5) {
    m *= 0.5;
    e += 1;
  }
  const i = Math.round((m - 1) * LOG_STEPS) + LOG_OFFSET;
  const r = (m - LOG_C[i]) * LOG_INV_C[i];
  const r2 = r * r;
  // log1p(r) = r − r²/2 + r³/3 − … − r⁸/8, in r² steps
  const series = r - r2 * (0.5 - r * (1 / 3 - r * (0.25 - r * (0.2 - r * (1 / 6 - r * (1 / 7 - r * 0.125))))));
  return e * LN2_HI + (LOG_OF_C[i] + (series + e * LN2_LO));
}
