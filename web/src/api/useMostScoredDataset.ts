import { MAX_COUNTED, mostScoredQuery, pickMostScored } from "./mostScoredDataset";
import { useQuery } from "./useQuery";

/**
 * The dataset the models page scores on and the leaderboard shows when none is chosen: the one
 * with the most canonical scores, so a registry's first view shows scores rather than dashes.
 * `resolved` is false while counting; on an error the pages fall back as when nothing is scored.
 */
export function useMostScoredDataset(datasetIds: string[] | undefined): { id: string; resolved: boolean } {
  const ids = (datasetIds ?? []).slice(0, MAX_COUNTED);
  const result = useQuery<Record<string, { totalCount: number }>>(
    mostScoredQuery(ids),
    Object.fromEntries(ids.map((id, k) => [`d${k}`, id])),
    { skip: !datasetIds || !ids.length },
  );
  if (!datasetIds) return { id: "", resolved: false };
  if (!ids.length || result.error) return { id: "", resolved: true };
  if (!result.data) return { id: "", resolved: false };
  return { id: pickMostScored(ids, result.data), resolved: true };
}
