/**
 * splitmix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014;
 * Vigna's reference C): state advances by the golden gamma and each output is the state mixed.
 * Counter-based use — the k-th output of the generator seeded with `seed` is `mix(seed + k·γ)`
 * (k ≥ 1) — lets any draw be computed on its own, so a search's draws do not depend on which
 * worker computes which image or candidate (docs/CONVENTIONS.md, Merge search).
 */
const MASK = (1n << 64n) - 1n;
const GAMMA = 0x9e3779b97f4a7c15n;

function mix(z: bigint): bigint {
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
  return z ^ (z >> 31n);
}

/** The k-th output (k ≥ 1) of splitmix64 seeded with `seed`. */
export function splitmix64At(seed: bigint, k: bigint): bigint {
  return mix((BigInt.asUintN(64, seed) + k * GAMMA) & MASK);
}

/** A 64-bit output as a double in [0, 1): its top 53 bits · 2⁻⁵³. */
export function unitInterval(x: bigint): number {
  return Number(x >> 11n) / 2 ** 53;
}

/** The sequential generator (the same outputs as splitmix64At at k = 1, 2, …). */
export class SplitMix64 {
  private k = 0n;
  private spare: number | null = null;

  constructor(private readonly seed: bigint) {}

  next(): bigint {
    this.k += 1n;
    return splitmix64At(this.seed, this.k);
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return unitInterval(this.next());
  }

  /** Standard normal by the Box–Muller transform (pairs; the second value is kept for the next call). */
  gaussian(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    const u1 = 1 - this.uniform(); // (0, 1]: log is finite
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }
}

/** 2⁻⁵³, and γ and the two mixing multipliers as 32-bit halves, for `uniforms`. */
const TWO_53 = 2 ** 53;
const GAMMA_HI = 0x9e3779b9;
const GAMMA_LO = 0x7f4a7c15;
const M1_HI = 0xbf58476d;
const M1_LO = 0x1ce4e5b9;
const M2_HI = 0x94d049bb;
const M2_LO = 0x133111eb;

/** High 32 bits of the 64-bit product of two 32-bit unsigned integers (16-bit limbs, exact in doubles). */
function mulHigh(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const m1 = a1 * b0 + Math.floor((a0 * b0) / 65536);
  const m2 = a0 * b1 + (m1 % 65536);
  return (a1 * b1 + Math.floor(m1 / 65536) + Math.floor(m2 / 65536)) >>> 0;
}

/**
 * Outputs 1…count of splitmix64 seeded with `seed`, each as `unitInterval` gives it: the same
 * numbers as `SplitMix64.uniform()` called `count` times, computed on 32-bit halves instead of
 * BigInts (a search's bootstrap draws 50,000 of them; BigInt arithmetic made that ~20 ms).
 */
export function uniforms(seed: bigint, count: number): Float64Array {
  const s = BigInt.asUintN(64, seed);
  let hi = Number(s >> 32n) >>> 0;
  let lo = Number(s & 0xffffffffn) >>> 0;
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    // state += γ (mod 2⁶⁴)
    const sum = lo + GAMMA_LO;
    lo = sum >>> 0;
    hi = (hi + GAMMA_HI + (sum > 0xffffffff ? 1 : 0)) >>> 0;
    // z = (state ^ state >>> 30) · M1
    let zl = (lo ^ ((lo >>> 30) | (hi << 2))) >>> 0;
    let zh = (hi ^ (hi >>> 30)) >>> 0;
    let ph = (Math.imul(zh, M1_LO) + Math.imul(zl, M1_HI) + mulHigh(zl, M1_LO)) >>> 0;
    let pl = Math.imul(zl, M1_LO) >>> 0;
    // z = (z ^ z >>> 27) · M2
    zl = (pl ^ ((pl >>> 27) | (ph << 5))) >>> 0;
    zh = (ph ^ (ph >>> 27)) >>> 0;
    ph = (Math.imul(zh, M2_LO) + Math.imul(zl, M2_HI) + mulHigh(zl, M2_LO)) >>> 0;
    pl = Math.imul(zl, M2_LO) >>> 0;
    // z ^ z >>> 31, top 53 bits
    zl = (pl ^ ((pl >>> 31) | (ph << 1))) >>> 0;
    zh = (ph ^ (ph >>> 31)) >>> 0;
    out[i] = (zh * 2 ** 21 + (zl >>> 11)) / TWO_53;
  }
  return out;
}
