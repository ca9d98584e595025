import { MAX_COUNTED, mostUsedTargetQuery, pickMostUsed } from "./mostUsedTarget";
import { useQuery } from "./useQuery";

/**
 * The dataset the models page scores on when none is chosen: the one most models are adapted
 * to (their target). `resolved` is false while counting; on an error the page shows no score
 * column rather than no table.
 */
export function useMostUsedTarget(datasetIds: string[] | undefined, skip: boolean): { id: string; resolved: boolean } {
  const ids = (datasetIds ?? []).slice(0, MAX_COUNTED);
  const result = useQuery<Record<string, { totalCount: number }>>(
    mostUsedTargetQuery(ids),
    Object.fromEntries(ids.map((id, k) => [`d${k}`, id])),
    { skip: skip || !datasetIds || !ids.length },
  );
  if (skip) return { id: "", resolved: true };
  if (!datasetIds) return { id: "", resolved: false };
  if (!ids.length || result.error) return { id: "", resolved: true };
  if (!result.data) return { id: "", resolved: false };
  return { id: pickMostUsed(ids, result.data), resolved: true };
}
