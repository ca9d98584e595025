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
