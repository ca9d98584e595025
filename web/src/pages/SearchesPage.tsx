import { useEffect, useState } from "react";
import { useJobUpdates } from "../api/useJobUpdates";
import { useQuery } from "../api/useQuery";
import { isLive, POLL_MS, withUpdate, type JobView } from "../components/JobPanel";
import { ProgressBar } from "../components/ProgressBar";
import { Empty, ErrorMessage, Loading } from "../components/States";
import { count, date, percent } from "../format";
import { Link, useQueryParams } from "../router";
import { SearchPage } from "./SearchPage";
import { objectiveText, type SearchSettings } from "./search/searchModel";

const PAGE = 25;

interface SearchRow {
  id: string;
  createdAt: string;
  planned: number;
  truncated: boolean;
  settings: SearchSettings;
  pickIsSingle: boolean | null;
  pickConfidence: number | null;
  best: { objective: number | null; audit: number | null } | null;
  job: JobView | null;
}

/** Every merge search, newest first, with its live progress and its pick once it has one. */
export function SearchesPage() {
  const [params, setParams] = useQueryParams();
  const [cursors, setCursors] = useState<string[]>([]);
  const after = params.get("after") || null;
  const legacy = params.get("search");
  const [pollFast, setPollFast] = useState(false);
  const result = useQuery<{ mergeSearches: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: Array<{ node: SearchRow }> } }>(
    `query Searches($first: Int, $after: String) { mergeSearches(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node {
      id createdAt planned truncated settings pickIsSingle pickConfidence best { objective audit } job { id kind status progress message error errorCode createdAt startedAt finishedAt worker model { id name version } evaluation { id model { id name } dataset { name } } }
    } } } }`,
    { first: PAGE, after },
    { pollMs: pollFast ? POLL_MS : 5000, keepPrevious: true, skip: Boolean(legacy) },
  );
  // Links of the form /searches?search=<id> show that search's page, and the URL becomes its own.
  useEffect(() => {
    if (legacy) window.history.replaceState(null, "", `/searches/${encodeURIComponent(legacy)}`);
  }, [legacy]);
  const rows = result.data?.mergeSearches.edges.map((e) => e.node);
  const liveIds = rows?.flatMap((r) => (r.job && isLive(r.job.status) ? [r.job.id] : [])) ?? [];
  const { updates, failed } = useJobUpdates(liveIds, result.refetch);
  useEffect(() => setPollFast(failed && liveIds.length > 0), [failed, liveIds.length]);
  const connection = result.data?.mergeSearches;
  if (legacy) return <SearchPage id={legacy} />;
  return (
    <section>
      <div className="page-head">
        <h1>Merge searches</h1>
        <p className="muted">Start one from the <Link to="/merge">Merge builder</Link> (an anchor and its contributors are the pool).</p>
      </div>
      {result.error ? <ErrorMessage error={result.error} retry={result.refetch} /> : null}
      {!rows && !result.error ? <Loading what="searches" /> : null}
      {rows && !rows.length ? <Empty>No merge search yet.</Empty> : null}
      {rows && rows.length && connection ? (
        <>
          <div className="table-scroll">
            <table className="data" data-testid="searches-table">
              <thead>
                <tr>
                  <th scope="col">Search</th>
                  <th scope="col">Objective</th>
                  <th scope="col" className="num">Pool</th>
                  <th scope="col" className="num">Planned</th>
                  <th scope="col">Progress</th>
                  <th scope="col">Pick</th>
                  <th scope="col">Started</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => {
                  const job = r.job ? withUpdate(r.job, updates[r.job.id]) : null;
                  return (
                    <tr key={r.id}>
                      <td><Link to={`/searches/${r.id}`}><code>{r.id.slice(0, 8)}</code></Link></td>
                      <td>{r.settings.objective.kind.toLowerCase()}{r.settings.audit ? <span className="muted"> · audited</span> : null}</td>
                      <td className="num">{r.settings.modelIds.length}</td>
                      <td className="num">{count(r.planned)}{r.truncated ? <span className="muted"> (cut)</span> : null}</td>
                      <td className="progress-cell">{job ? <ProgressBar value={job.progress} status={job.status} label={`search ${r.id.slice(0, 8)}`} /> : "—"}</td>
                      <td>
                        {r.best ? (
                          <>
                            {r.pickIsSingle ? "keep a single model" : "a merge"} · objective {objectiveText(r.best.objective)}
                            {r.settings.audit ? ` · audit ${percent(r.best.audit, 2)}` : ""} <span className="muted">(confidence {percent(r.pickConfidence)})</span>
                          </>
                        ) : <span className="muted">—</span>}
                      </td>
                      <td className="nowrap">{date(r.createdAt).slice(0, 16)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          <nav className="pager" aria-label="Pages">
            <button type="button" disabled={!after} onClick={() => { const prev = [...cursors]; const back = prev.pop(); setCursors(prev); setParams({ after: back || null }); }}>
              Previous
            </button>
            <span>{connection.totalCount} searches</span>
            <button type="button" disabled={!connection.pageInfo.hasNextPage} onClick={() => { setCursors([...cursors, after ?? ""]); setParams({ after: connection.pageInfo.endCursor }); }}>
              Next
            </button>
          </nav>
        </>
      ) : null}
    </section>
  );
}
