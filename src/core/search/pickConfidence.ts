import { invariant } from "../errors";
import { ImageStats } from "./imageStats";
import { StatsMeasure, objectiveValue, statsLength } from "./objectives";
import { SplitMix64 } from "./splitmix64";

export const BOOTSTRAP_RESAMPLES = 1000;

export interface PickConfidence {
  /** Index of the pick: the candidate with the highest objective (the first of equals). */
  pick: number;
  /** Share of the resamples in which no other candidate's objective is higher than the pick's. */
  confidence: number;
  resamples: number;
}

/** Index of the highest value, the first of equals; nulls never win over a number. */
export function bestIndex(values: ReadonlyArray<number | null>): number {
  let best = -1;
  values.forEach((v, i) => {
    if (v === null) return;
    if (best < 0 || v > (values[best] as number)) best = i;
  });
  return best;
}

/**
 * How sure the pick is: the objective is recomputed for every candidate on `resamples` image
 * bootstrap samples (n images drawn with replacement, the same draws for every candidate), and
 * the share in which the pick stays first is reported. Draw j of resample b is output
 * b·n + j + 1 of splitmix64 seeded with `seed` + 1 (docs/CONVENTIONS.md, Merge search), the image
 * index being ⌊u · n⌋. `images[c][i]` is candidate c's statistics of image i.
 */
export function pickConfidence(kind: StatsMeasure, classes: number, images: ReadonlyArray<readonly ImageStats[]>, seed: bigint, resamples = BOOTSTRAP_RESAMPLES): PickConfidence | null {
  if (images.length === 0) return null;
  const n = images[0].length;
  const length = statsLength(kind, classes);
  images.forEach((c) => invariant(c.length === n, "every candidate has statistics for every image"));
  const full = images.map((c) => objectiveValue(kind, sum(c, length, null), classes));
  const pick = bestIndex(full);
  if (pick < 0 || n === 0) return null;
  // One contiguous block per candidate keeps the inner loop on one array.
  const blocks = images.map((c) => {
    const block = new Float64Array(n * length);
    c.forEach((s, i) => block.set(s, i * length));
    return block;
  });
  const rng = new SplitMix64(BigInt.asUintN(64, seed + 1n));
  const counts = new Float64Array(n);
  let stays = 0;
  for (let b = 0; b < resamples; b++) {
    counts.fill(0);
    for (let j = 0; j < n; j++) counts[Math.min(n - 1, Math.floor(rng.uniform() * n))]++;
    const pickValue = objectiveValue(kind, weighted(blocks[pick], counts, length), classes);
    let first = pickValue !== null;
    for (let c = 0; c < blocks.length && first; c++) {
      if (c === pick) continue;
      const v = objectiveValue(kind, weighted(blocks[c], counts, length), classes);
      if (v !== null && v > (pickValue as number)) first = false;
    }
    if (first) stays++;
  }
  return { pick, confidence: stays / resamples, resamples };
}

function sum(stats: readonly ImageStats[], length: number, counts: Float64Array | null): Float64Array {
  const total = new Float64Array(length);
  stats.forEach((s, i) => {
    const w = counts ? counts[i] : 1;
    for (let k = 0; k < length; k++) total[k] += w * s[k];
  });
  return total;
}

function weighted(block: Float64Array, counts: Float64Array, length: number): Float64Array {
  const total = new Float64Array(length);
  for (let i = 0; i < counts.length; i++) {
    const w = counts[i];
    if (w === 0) continue;
    const o = i * length;
    for (let k = 0; k < length; k++) total[k] += w * block[o + k];
  }
  return total;
}
