import { useCallback, useEffect, useRef, useState } from "react";
import { gql, RequestError } from "./client";

export interface QueryState<T> {
  data: T | undefined;
  error: RequestError | undefined;
  loading: boolean;
  /** Runs the query again (keeps the current data on screen meanwhile). */
  refetch(): void;
}

/**
 * Runs `query` whenever it or `variables` change (compared as JSON), cancelling the request it
 * replaces so a slow old answer never overwrites a newer one. `skip` holds the query back.
 * `pollMs` re-runs it on a timer while the caller wants live data (jobs). `keepPrevious` leaves
 * the last answer on screen while a changed query runs (a table being filtered, a preview being
 * edited) instead of flashing a loading state.
 */
export function useQuery<T>(query: string, variables: Record<string, unknown> = {}, options: { skip?: boolean; pollMs?: number; keepPrevious?: boolean } = {}): QueryState<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<RequestError>();
  const [loading, setLoading] = useState(!options.skip);
  const [tick, setTick] = useState(0);
  const key = JSON.stringify(variables);
  const lastKey = useRef<string>("");

  useEffect(() => {
    if (options.skip) {
      setLoading(false);
      return;
    }
    const controller = new AbortController();
    const changed = lastKey.current !== query + key;
    lastKey.current = query + key;
    if (changed && !options.keepPrevious) setData(undefined);
    setLoading(true);
    gql<T>(query, JSON.parse(key), controller.signal)
      .then((result) => {
        setData(result);
        setError(undefined);
      })
      .catch((e: unknown) => {
        if ((e as Error).name === "AbortError") return;
        setError(e instanceof RequestError ? e : new RequestError([{ message: String((e as Error).message ?? e) }], 0));
      })
      .finally(() => {
        if (!controller.signal.aborted) setLoading(false);
      });
    return () => controller.abort();
  }, [query, key, tick, options.skip]);

  useEffect(() => {
    if (!options.pollMs || options.skip) return;
    const timer = setInterval(() => setTick((t) => t + 1), options.pollMs);
    return () => clearInterval(timer);
  }, [options.pollMs, options.skip]);

  useEffect(() => {
    const again = () => setTick((t) => t + 1);
    window.addEventListener("layermerge:token", again);
    return () => window.removeEventListener("layermerge:token", again);
  }, []);

  const refetch = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, refetch };
}
