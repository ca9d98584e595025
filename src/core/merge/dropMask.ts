/**
 * DARE's drop decisions from a counter-based generator (arXiv 2311.03099, §3): element i of
 * model k's task vector for tensor `name` is dropped iff  u(seed, name, k, i) < p · 2^32, where
 * u is a 32-bit hash of the key and the element index. Nothing is stateful, so chunking, order
 * and parallelism never change which elements are dropped, and a merge is re-runnable from its
 * recipe.
 *
 * The mixer is Wellons' `lowbias32` (a bijection on 32-bit words with low avalanche bias),
 * chained as in a sponge: key = h(h(h(seed) ^ fnv1a(name)) ^ k), u = h(h(key ^ lo) ^ hi ^ C),
 * with lo/hi the 32-bit halves of the element index.
 */

/** FNV-1a, 32 bits, over the UTF-8 bytes of `text`. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, "utf8")) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function lowbias32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

const HIGH_WORD_SALT = 0x9e3779b9;
const TWO_POW_32 = 4294967296;

/** The per-(seed, tensor, model) key; model 0 is the anchor, 1..n the contributors. */
export function dropStreamKey(seed: number, tensorName: string, modelIndex: number): number {
  return lowbias32((lowbias32((lowbias32(seed >>> 0) ^ fnv1a32(tensorName)) >>> 0) ^ modelIndex) >>> 0);
}

/** Uniform 32-bit word for element `index` (0 ≤ index < 2^53) of a stream. */
export function dropStreamWord(key: number, index: number): number {
  const lo = index >>> 0;
  const hi = Math.floor(index / TWO_POW_32) >>> 0;
  return lowbias32((lowbias32((key ^ lo) >>> 0) ^ hi ^ HIGH_WORD_SALT) >>> 0);
}

/** Words below this are dropped: P(drop) = p up to 2^-32. */
export function dropThreshold(dropRate: number): number {
  return Math.round(dropRate * TWO_POW_32);
}
