/**
 * A candidate's per-image statistics in one array (images × statistics, in image order) and how
 * many statistics each image has: one buffer crosses to the calling thread instead of one per
 * image (a small model's candidate sent 50 and more).
 */
export interface PackedStats {
  data: Float64Array;
  length: number;
}

export interface PackedCandidateScores {
  objective: PackedStats;
  audit: PackedStats | null;
  /** The objective on each of the search's bootstrap resamples, when asked for. */
  resampled: Float64Array | null;
  seconds: number;
}

export function packStats(images: readonly Float64Array[]): PackedStats {
  const length = images[0]?.length ?? 0;
  const data = new Float64Array(images.length * length);
  images.forEach((s, i) => {
    if (s.length !== length) throw new Error(`image ${i} has ${s.length} statistics, image 0 ${length}`);
    data.set(s, i * length);
  });
  return { data, length };
}

/** The per-image statistics of packed ones (views of its array). */
export function unpackStats(p: PackedStats): Float64Array[] {
  if (p.length === 0) return [];
  return Array.from({ length: p.data.length / p.length }, (_, i) => p.data.subarray(i * p.length, (i + 1) * p.length));
}
