import { badInput } from "../core/errors";
import type { CandidateSimilarity } from "./similarityService";

/**
 * The SIMILARITY order of merge candidates: computed similarities first, highest cosine first;
 * then computed ones without a cosine (a side is all zeros); then the pending ones. Ties, and the
 * pending ones among themselves, by shared fraction (highest first), then id.
 */
export type SimilaritySortKey = [rank: number, cosine: number, fraction: number, id: string];

export function similaritySortKey(similarity: CandidateSimilarity | null | undefined, fraction: number, id: string): SimilaritySortKey {
  if (!similarity) return [2, 0, fraction, id];
  if (similarity.cosine === null) return [1, 0, fraction, id];
  return [0, similarity.cosine, fraction, id];
}

export function compareSimilarityKeys(a: SimilaritySortKey, b: SimilaritySortKey): number {
  return a[0] - b[0] || b[1] - a[1] || b[2] - a[2] || (a[3] < b[3] ? -1 : a[3] > b[3] ? 1 : 0);
}

/** Cursors of this order carry the whole key (base64url JSON). */
export function encodeSimilarityCursor(key: SimilaritySortKey): string {
  return Buffer.from(JSON.stringify(["similarity", ...key])).toString("base64url");
}

export function decodeSimilarityCursor(cursor: string | null): SimilaritySortKey | null {
  if (cursor == null || cursor === "") return null;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown[];
    const [tag, rank, cosine, fraction, id] = parsed;
    if (tag === "similarity" && parsed.length === 5 && typeof rank === "number" && typeof cosine === "number" && typeof fraction === "number" && typeof id === "string") return [rank, cosine, fraction, id];
  } catch {
    // fall through
  }
  throw badInput("after is not a cursor of this candidates query (orderBy: SIMILARITY)", "after");
}
