/**
 * Running float64 sums for the cosine similarity of two long vectors read piece by piece (the
 * concatenation of many tensors), and of their differences from a third (a common ancestor);
 * docs/CONVENTIONS.md, Candidate similarity:
 *
 *     cos(a, b) = Σ aᵢbᵢ / √(Σ aᵢ² · Σ bᵢ²)
 *
 * Only the sums are kept, so memory does not depend on the vectors' length.
 */
export interface CosineSums {
  dot: number;
  normA: number;
  normB: number;
}

export function emptySums(): CosineSums {
  return { dot: 0, normA: 0, normB: 0 };
}

/** Adds aᵢ, bᵢ for i < n (float64 arithmetic: values of any float dtype convert exactly). */
export function addPair(sums: CosineSums, a: ArrayLike<number>, b: ArrayLike<number>, n: number): void {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  sums.dot += dot;
  sums.normA += na;
  sums.normB += nb;
}

/** Adds (aᵢ − cᵢ), (bᵢ − cᵢ) for i < n. */
export function addDeltaPair(sums: CosineSums, a: ArrayLike<number>, b: ArrayLike<number>, c: ArrayLike<number>, n: number): void {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < n; i++) {
    const base = c[i]!;
    const x = a[i]! - base;
    const y = b[i]! - base;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  sums.dot += dot;
  sums.normA += na;
  sums.normB += nb;
}

export function mergeSums(into: CosineSums, from: CosineSums): void {
  into.dot += from.dot;
  into.normA += from.normA;
  into.normB += from.normB;
}

/** The cosine, or null when either vector is all zeros (the angle is undefined). */
export function cosineOf(sums: CosineSums): number | null {
  if (sums.normA === 0 || sums.normB === 0) return null;
  const c = sums.dot / (Math.sqrt(sums.normA) * Math.sqrt(sums.normB));
  // Rounding can carry |c| a hair past 1 for parallel vectors.
  return Math.max(-1, Math.min(1, c));
}
