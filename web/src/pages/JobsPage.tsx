import { useEffect, useState } from "react";
import { useJobUpdates } from "../api/useJobUpdates";
import { useQuery } from "../api/useQuery";
import { CancelButton, isLive, JOB_FIELDS, JobPanel, type JobView, POLL_MS, withUpdate } from "../components/JobPanel";
import { ProgressBar } from "../components/ProgressBar";
import { Empty, ErrorMessage, Loading } from "../components/States";
import { date } from "../format";
import { href, Link, useQueryParams } from "../router";

const STATUSES = ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"];

function duration(job: JobView): string {
  if (!job.startedAt) return "—";
  const ms = (job.finishedAt ? Date.parse(job.finishedAt) : Date.now()) - Date.parse(job.startedAt);
  return ms < 1000 ? `${ms} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 60_000)} min`;
}

function Result({ job }: { job: JobView }) {
  if (job.model) return <Link to={`/models/${job.model.id}`}>{job.model.name}@{job.model.version}</Link>;
  if (job.evaluation) return <Link to={`/models/${job.evaluation.model.id}?tab=evaluations&evaluation=${job.evaluation.id}`}>{job.evaluation.model.name} on {job.evaluation.dataset.name}</Link>;
  if (job.error) return <span className="error-text">{job.error}</span>;
  if (job.mergeSearch) return <Link to={`/searches/${job.mergeSearch.id}`}>merge search {job.mergeSearch.id.slice(0, 8)}{job.message ? <span className="muted"> — {job.message}</span> : null}</Link>;
  return <span className="muted">{job.message ?? "—"}</span>;
}

export function JobsPage() {
  const [params, setParams] = useQueryParams();
  const status = params.get("status") ?? "";
  const kind = params.get("kind") ?? "";
  const selected = params.get("job");
  const statuses = status ? status.split(",") : null;
  const [pollFast, setPollFast] = useState(false);
  const result = useQuery<{ jobs: { totalCount: number; edges: Array<{ node: JobView }> } }>(
    `query Jobs($status: [JobStatus!], $kind: JobKind) { jobs(status: $status, kind: $kind, first: 50) { totalCount edges { node { ${JOB_FIELDS} } } } }`,
    { status: statuses, kind: kind || null },
    // Running jobs move over jobUpdated; the list itself is re-read slowly to notice new jobs,
    // and fast only when the socket failed and something runs (live progress by polling).
    { pollMs: pollFast ? POLL_MS : 3000 },
  );
  const queried = result.data?.jobs.edges.map((e) => e.node);
  const liveIds = queried?.filter((j) => isLive(j.status)).map((j) => j.id) ?? [];
  // An ended job is re-read with the list (its result, its timings).
  const { updates, failed } = useJobUpdates(liveIds, result.refetch);
  useEffect(() => setPollFast(failed && liveIds.length > 0), [failed, liveIds.length]);
  const jobs = queried?.map((j) => withUpdate(j, updates[j.id]));
  const running = jobs?.filter((j) => isLive(j.status)).length ?? 0;
  return (
    <section>
      <div className="page-head">
        <h1>Jobs</h1>
        {jobs ? <p className="muted" aria-live="polite">{running} queued or running · {result.data?.jobs.totalCount} in all (newest 50 shown, refreshed live)</p> : null}
      </div>
      <form className="filters inline" onSubmit={(e) => e.preventDefault()} aria-label="Filter jobs">
        <label>
          Status
          <select value={status} onChange={(e) => setParams({ status: e.target.value })}>
            <option value="">any</option>
            <option value="QUEUED,RUNNING">queued or running</option>
            {STATUSES.map((s) => <option key={s} value={s}>{s.toLowerCase()}</option>)}
          </select>
        </label>
        <label>
          Kind
          <select value={kind} onChange={(e) => setParams({ kind: e.target.value })}>
            <option value="">any</option>
            <option value="MERGE">merge</option>
            <option value="EVALUATE">evaluate</option>
            <option value="MERGE_SEARCH">merge search</option>
          </select>
        </label>
      </form>
      {selected ? (
        <div className="card">
          <h2>Job {selected.slice(0, 8)} <Link to={href("/jobs", { status, kind })} className="small">close</Link></h2>
          <JobPanel id={selected} />
        </div>
      ) : null}
      {result.error ? <ErrorMessage error={result.error} retry={result.refetch} /> : null}
      {!jobs && !result.error ? <Loading what="jobs" /> : null}
      {jobs && !jobs.length ? <Empty>No jobs{status || kind ? " match these filters" : " yet: start a merge from the merge builder, or an evaluation"}.</Empty> : null}
      {jobs && jobs.length ? (
        <div className="table-scroll">
          <table className="data" data-testid="jobs-table">
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Kind</th>
                <th scope="col">Progress</th>
                <th scope="col">Result</th>
                <th scope="col">Created</th>
                <th scope="col" className="num">Took</th>
                <th scope="col"><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {jobs.map((job) => (
                <tr key={job.id}>
                  <td><Link to={href("/jobs", { status, kind, job: job.id })}><code>{job.id.slice(0, 8)}</code></Link></td>
                  <td>{job.kind.toLowerCase()}</td>
                  <td className="progress-cell"><ProgressBar value={job.progress} status={job.status} label={`job ${job.id.slice(0, 8)}`} /></td>
                  <td><Result job={job} /></td>
                  <td className="nowrap">{date(job.createdAt).slice(0, 16)}</td>
                  <td className="num">{duration(job)}</td>
                  <td><CancelButton job={job} onDone={result.refetch} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
