import { useEffect, useRef, useState } from "react";
import { type JobUpdate, watchJob } from "./jobUpdates";

export interface JobUpdatesState {
  /** The latest pushed state of each watched job (empty once the socket has failed). */
  updates: Record<string, JobUpdate>;
  /** The socket cannot be used: the caller polls job(id) / jobs instead. */
  failed: boolean;
}

/**
 * Follows `ids` live over the jobUpdated subscription: one subscription per job, added and
 * dropped as the list changes, all on one socket. `onEnd(id)` runs when a job reaches an end so
 * the caller can fetch what an update does not carry (the result model, timings). A new token
 * (the "layermerge:token" event) retries the socket, since a refused token is the usual reason
 * for it to fail.
 */
export function useJobUpdates(ids: string[], onEnd?: (id: string) => void): JobUpdatesState {
  const [updates, setUpdates] = useState<Record<string, JobUpdate>>({});
  const [failed, setFailed] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const watches = useRef(new Map<string, () => void>());
  const endRef = useRef(onEnd);
  endRef.current = onEnd;
  const key = [...new Set(ids)].sort().join(",");

  const stopAll = () => {
    for (const stop of watches.current.values()) stop();
    watches.current.clear();
  };

  useEffect(() => stopAll, []);

  useEffect(() => {
    const again = () => {
      stopAll();
      setFailed(false);
      setAttempt((a) => a + 1);
    };
    window.addEventListener("layermerge:token", again);
    return () => window.removeEventListener("layermerge:token", again);
  }, []);

  useEffect(() => {
    if (failed) {
      stopAll();
      return;
    }
    const wanted = new Set(key ? key.split(",") : []);
    for (const [id, stop] of watches.current) {
      if (!wanted.has(id)) {
        stop();
        watches.current.delete(id);
      }
    }
    for (const id of wanted) {
      if (watches.current.has(id)) continue;
      const stop = watchJob(id, {
        update(update) {
          setUpdates((all) => ({ ...all, [id]: update }));
          if (update.status !== "QUEUED" && update.status !== "RUNNING") endRef.current?.(id);
        },
        fail(reason) {
          console.warn(`live updates of job ${id} unavailable (${reason}); polling instead`);
          setUpdates({});
          setFailed(true);
        },
      });
      watches.current.set(id, stop);
    }
  }, [key, failed, attempt]);

  return { updates: failed ? {} : updates, failed };
}
