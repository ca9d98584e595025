import { invariant } from "../errors";
import { ImageStats } from "./imageStats";
import { StatsMeasure, objectiveValue, statsLength, sumStats } from "./objectives";
import { uniforms } from "./splitmix64";

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
 * the share in which the pick stays first is reported (the draws: `bootstrapDraws`,
 * docs/CONVENTIONS.md, Merge search). `images[c][i]` is candidate c's statistics of image i.
 */
export function pickConfidence(kind: StatsMeasure, classes: number, images: ReadonlyArray<readonly ImageStats[]>, seed: bigint, resamples = BOOTSTRAP_RESAMPLES): PickConfidence | null {
  if (images.length === 0) return null;
  const n = images[0].length;
  const length = statsLength(kind, classes);
  images.forEach((c) => invariant(c.length === n, "every candidate has statistics for every image"));
  const pick = bestIndex(images.map((c) => objectiveValue(kind, sumStats(c, length), classes)));
  if (pick < 0 || n === 0) return null;
  const draws = bootstrapDraws(seed, n, resamples);
  const blocks = images.map((c) => {
    const block = new Float64Array(n * length);
    c.forEach((s, i) => block.set(s, i * length));
    return block;
  });
  return confidenceFromResampled(pick, blocks.map((b) => resampledObjectives(kind, classes, b, length, draws)));
}

/**
 * The draws of a bootstrap over `images` images, made once and shared by every candidate: for
 * resample b, the images drawn (ascending) and how often each, as the runs `drawn` / `times` from
 * `starts[b]` to `starts[b + 1]`. Draw j of resample b is output b·n + j + 1 of splitmix64 seeded
 * with `seed` + 1, the image index being ⌊u · n⌋.
 */
export interface BootstrapDraws {
  images: number;
  resamples: number;
  drawn: Int32Array;
  times: Float64Array;
  starts: Int32Array;
}

export function bootstrapDraws(seed: bigint, images: number, resamples = BOOTSTRAP_RESAMPLES): BootstrapDraws {
  const n = images;
  const draws = uniforms(BigInt.asUintN(64, seed + 1n), resamples * n);
  const counts = new Float64Array(n);
  const drawn = new Int32Array(resamples * n);
  const times = new Float64Array(resamples * n);
  const starts = new Int32Array(resamples + 1);
  for (let b = 0, p = 0; b < resamples; b++) {
    counts.fill(0);
    for (let j = 0; j < n; j++) counts[Math.min(n - 1, Math.floor(draws[b * n + j] * n))]++;
    for (let i = 0; i < n; i++) {
      if (counts[i] === 0) continue;
      drawn[p] = i;
      times[p++] = counts[i];
    }
    starts[b + 1] = p;
  }
  return { images: n, resamples, drawn, times, starts };
}

/**
 * A candidate's objective on every resample of `draws` (NaN where it has none): `block` holds its
 * statistics image after image, `length` each; a resample's statistics are the drawn images'
 * weighted by how often they were drawn, summed in image order. Computed as each candidate is
 * scored, so the search's end only compares.
 */
export function resampledObjectives(kind: StatsMeasure, classes: number, block: Float64Array, length: number, draws: BootstrapDraws): Float64Array {
  invariant(block.length === draws.images * length, "statistics for every image of the bootstrap");
  const { drawn, times, starts, resamples } = draws;
  const out = new Float64Array(resamples);
  const total = new Float64Array(length);
  for (let b = 0; b < resamples; b++) {
    total.fill(0);
    for (let p = starts[b]; p < starts[b + 1]; p++) {
      const w = times[p];
      const o = drawn[p] * length;
      for (let k = 0; k < length; k++) total[k] += w * block[o + k];
    }
    out[b] = objectiveValue(kind, total, classes) ?? Number.NaN;
  }
  return out;
}

/**
 * pickConfidence from every candidate's resampled objectives (`resampledObjectives`, the same
 * draws for all): a resample counts when the pick has an objective on it and no other candidate
 * has a higher one.
 */
export function confidenceFromResampled(pick: number, resampled: readonly Float64Array[]): PickConfidence {
  const mine = resampled[pick];
  const resamples = mine.length;
  const first = new Uint8Array(resamples);
  for (let b = 0; b < resamples; b++) first[b] = Number.isNaN(mine[b]) ? 0 : 1;
  resampled.forEach((other, c) => {
    if (c === pick) return;
    invariant(other.length === resamples, "the same resamples for every candidate");
    for (let b = 0; b < resamples; b++) if (other[b] > mine[b]) first[b] = 0;
  });
  let stays = 0;
  for (let b = 0; b < resamples; b++) stays += first[b];
  return { pick, confidence: stays / resamples, resamples };
}
