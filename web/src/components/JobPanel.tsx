import { useEffect, useState } from "react";
import { gql, RequestError } from "../api/client";
import type { JobUpdate } from "../api/jobUpdates";
import { useJobUpdates } from "../api/useJobUpdates";
import { useQuery } from "../api/useQuery";
import { permission, useViewer } from "../api/viewer";
import { Link } from "../router";
import { ProgressBar } from "./ProgressBar";
import { ErrorMessage, GuardedButton, Loading } from "./States";

export const JOB_FIELDS = `id kind status progress message error errorCode createdAt startedAt finishedAt worker
  model { id name version } evaluation { id model { id name } dataset { name } } mergeSearch { id }`;
export interface JobView {
  id: string;
  kind: string;
  status: string;
  progress: number;
  message: string | null;
  error: string | null;
  errorCode: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  worker: string | null;
  model: { id: string; name: string; version: string } | null;
  evaluation: { id: string; model: { id: string; name: string }; dataset: { name: string } } | null;
  /** A MERGE_SEARCH job's search (its page holds the result). */
  mergeSearch?: { id: string } | null;
}

export const isLive = (status: string) => status === "QUEUED" || status === "RUNNING";

/** Polling interval for live jobs when the jobUpdated socket cannot be used. */
export const POLL_MS = 300;

/** A queried job with the latest pushed state laid over it (the update carries no result or timings). */
export function withUpdate(job: JobView, update: JobUpdate | undefined): JobView {
  if (!update) return job;
  return { ...job, status: update.status, progress: update.progress, message: update.message, error: update.error };
}

export function CancelButton({ job, onDone }: { job: JobView; onDone: () => void }) {
  const { viewer, askForToken } = useViewer();
  const [error, setError] = useState<RequestError>();
  const [busy, setBusy] = useState(false);
  const may = permission(viewer, "WRITER");
  if (!isLive(job.status)) return null;
  return (
    <>
      <GuardedButton
        type="button"
        id={`cancel-${job.id}`}
        allowed={may.allowed}
        reason={may.reason}
        onAskToken={() => askForToken()}
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          try {
            await gql(`mutation($id: ID!) { cancelJob(id: $id) { id status } }`, { id: job.id });
            setError(undefined);
            onDone();
          } catch (e) {
            setError(e as RequestError);
          } finally {
            setBusy(false);
          }
        }}
      >
        Cancel
      </GuardedButton>
      {error ? <ErrorMessage error={error} /> : null}
    </>
  );
}

/**
 * One job followed live until it ends: progress, message, the result or the error in words.
 * Live state comes from the jobUpdated subscription; job(id) is asked once at the start and once
 * at the end (for the result), and polled only if the socket fails.
 */
export function JobPanel({ id }: { id: string }) {
  const [pollFallback, setPollFallback] = useState(false);
  const result = useQuery<{ job: JobView | null }>(`query Job($id: ID!) { job(id: $id) { ${JOB_FIELDS} } }`, { id }, { pollMs: pollFallback ? POLL_MS : undefined });
  const queried = result.data?.job;
  const live = queried ? isLive(queried.status) : false;
  const { updates, failed } = useJobUpdates(live ? [id] : [], result.refetch);
  // useQuery is called before the socket's fate is known, so its polling follows it a render late.
  useEffect(() => setPollFallback(failed && live), [failed, live]);
  const job = queried ? withUpdate(queried, updates[id]) : queried;
  if (result.error && !job) return <ErrorMessage error={result.error} retry={result.refetch} />;
  if (!result.data) return <Loading what="the job" />;
  if (!job) return <p className="state error">No job with id {id}.</p>;
  return (
    <div className="job-panel" data-testid="job-panel" data-status={job.status} data-live={live ? (failed ? "polling" : "subscribed") : undefined}>
      <ProgressBar value={job.progress} status={job.status} label={`${job.kind.toLowerCase()} job progress`} />
      <p aria-live="polite">{job.message ?? (job.status === "QUEUED" ? "Waiting to run…" : "")}</p>
      {job.status === "SUCCEEDED" && job.model ? (
        <p className="state success">
          Done: <Link to={`/models/${job.model.id}`} data-testid="job-result">{job.model.name}@{job.model.version}</Link>
        </p>
      ) : null}
      {job.status === "SUCCEEDED" && job.evaluation ? (
        <p className="state success">
          Done: <Link to={`/models/${job.evaluation.model.id}?tab=evaluations&evaluation=${job.evaluation.id}`}>evaluation of {job.evaluation.model.name} on {job.evaluation.dataset.name}</Link>
        </p>
      ) : null}
      {job.mergeSearch ? (
        <p className={job.status === "SUCCEEDED" ? "state success" : undefined}>
          <Link to={`/searches/${job.mergeSearch.id}`}>{job.status === "SUCCEEDED" ? "Done: the ranked candidates and the pick" : "The search's page (candidates as they are scored)"}</Link>
        </p>
      ) : null}
      {job.status === "FAILED" ? (
        <p className="state error" role="alert">
          <strong>{job.errorCode ?? "FAILED"}:</strong> {job.error ?? "the job failed without a message"}
        </p>
      ) : null}
      {job.status === "CANCELLED" ? <p className="state warning">Cancelled; nothing was written.</p> : null}
      <CancelButton job={job} onDone={result.refetch} />
    </div>
  );
}
