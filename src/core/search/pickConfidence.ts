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
 * the share in which the pick stays first is reported. Draw j of resample b is output
 * b·n + j + 1 of splitmix64 seeded with `seed` + 1 (docs/CONVENTIONS.md, Merge search), the image
 * index being ⌊u · n⌋. `images[c][i]` is candidate c's statistics of image i.
 */
export function pickConfidence(kind: StatsMeasure, classes: number, images: ReadonlyArray<readonly ImageStats[]>, seed: bigint, resamples = BOOTSTRAP_RESAMPLES): PickConfidence | null {
  const s = pickSurvival(kind, classes, images, seed, { part: 0, parts: 1 }, resamples);
  return s && confidenceOf(s.pick, [s.survives]);
}

/** Which resamples the pick survived against some of the rivals (1 where no rival of the part beats it). */
export interface PickSurvival {
  pick: number;
  survives: Uint8Array;
}

/**
 * pickConfidence from the survivals of every part of the rivals: a resample counts when the pick
 * survived it in every part.
 */
export function confidenceOf(pick: number, parts: readonly Uint8Array[]): PickConfidence {
  const resamples = parts[0].length;
  let stays = 0;
  for (let b = 0; b < resamples; b++) if (parts.every((p) => p[b] === 1)) stays++;
  return { pick, confidence: stays / resamples, resamples };
}

/**
 * pickConfidence's bootstrap against part `part` of `parts` of the rivals (every candidate but
 * the pick, ranked by full-sample objective, dealt out in turn), so that parts can run on
 * different threads; the same draws in every part.
 */
export function pickSurvival(kind: StatsMeasure, classes: number, images: ReadonlyArray<readonly ImageStats[]>, seed: bigint, share: { part: number; parts: number }, resamples = BOOTSTRAP_RESAMPLES): PickSurvival | null {
  if (images.length === 0) return null;
  const n = images[0].length;
  const length = statsLength(kind, classes);
  images.forEach((c) => invariant(c.length === n, "every candidate has statistics for every image"));
  const full = images.map((c) => objectiveValue(kind, sumStats(c, length), classes));
  const pick = bestIndex(full);
  if (pick < 0 || n === 0) return null;
  // One contiguous block per candidate keeps the inner loop on one array.
  const blocks = images.map((c) => {
    const block = new Float64Array(n * length);
    c.forEach((s, i) => block.set(s, i * length));
    return block;
  });
  // Every resample's draws, made once in the order above and shared by every candidate: the
  // images drawn (ascending) and how often, as runs of `drawn` / `times` from starts[b].
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
  const total = new Float64Array(length);
  /** A candidate's objective on resample b: its images' statistics weighted by their draws, summed in image order. */
  const resampled = (block: Float64Array, b: number): number | null => {
    total.fill(0);
    for (let p = starts[b]; p < starts[b + 1]; p++) {
      const w = times[p];
      const o = drawn[p] * length;
      for (let k = 0; k < length; k++) total[k] += w * block[o + k];
    }
    return objectiveValue(kind, total, classes);
  };
  const pickValue = new Float64Array(resamples);
  /** first[b]: no candidate compared so far beats the pick on resample b. */
  const first = new Uint8Array(resamples);
  for (let b = 0; b < resamples; b++) {
    const v = resampled(blocks[pick], b);
    first[b] = v === null ? 0 : 1;
    pickValue[b] = v ?? 0;
  }
  // The closest rivals first (by full-sample objective), so a resample the pick loses is
  // settled before the others are computed on it; which rival beats it does not matter.
  const rivals = full
    .map((v, c) => ({ v, c }))
    .filter((r) => r.c !== pick)
    .sort((x, y) => (y.v ?? -Infinity) - (x.v ?? -Infinity) || x.c - y.c)
    .filter((_, i) => i % share.parts === share.part);
  for (const { c } of rivals) {
    for (let b = 0; b < resamples; b++) {
      if (first[b] === 0) continue;
      const v = resampled(blocks[c], b);
      if (v !== null && v > pickValue[b]) first[b] = 0;
    }
  }
  return { pick, survives: first };
}
