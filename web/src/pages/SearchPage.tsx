import { useCallback, useEffect, useState } from "react";
import { datasetLabel, useCatalog } from "../api/useCatalog";
import { useJobUpdates } from "../api/useJobUpdates";
import { useModelNames } from "../api/useModelNames";
import { useQuery } from "../api/useQuery";
import { CancelButton, isLive, JOB_FIELDS, type JobView, POLL_MS, withUpdate } from "../components/JobPanel";
import { ProgressBar } from "../components/ProgressBar";
import { ErrorMessage, Loading } from "../components/States";
import { count, date, percent } from "../format";
import { href, Link } from "../router";
import { CandidateTable } from "./search/CandidateTable";
import { ObjectiveAuditScatter } from "./search/ObjectiveAuditScatter";
import { CANDIDATE_FIELDS, type CandidateView, describeRecipe, type Names, objectiveText, type Recipe, type SearchSettings, signedObjective } from "./search/searchModel";

interface SearchView {
  id: string;
  createdAt: string;
  finishedAt: string | null;
  planned: number;
  truncated: boolean;
  settings: SearchSettings;
  summary: string | null;
  spearman: number | null;
  pickConfidence: number | null;
  marginVsBestSingle: number | null;
  pickIsSingle: boolean | null;
  best: CandidateView | null;
  bestSingle: CandidateView | null;
  job: JobView | null;
  keptJobs: Array<{ id: string; status: string; model: { id: string; name: string; version: string } | null }>;
}

const SEARCH = `query Search($id: ID!) { mergeSearch(id: $id) {
  id createdAt finishedAt planned truncated settings summary spearman pickConfidence marginVsBestSingle pickIsSingle
  best { ${CANDIDATE_FIELDS} } bestSingle { ${CANDIDATE_FIELDS} }
  job { ${JOB_FIELDS} } keptJobs { id status model { id name version } }
} }`;

/** While a search runs, its table and plot are re-read this often (each read is one page). */
const REFRESH_MS = 1500;

/** The builder's URL for a candidate's recipe, so a person can look at (or run) it for real. */
function builderHref(recipe: Recipe): string {
  const s = recipe.schedule;
  const weights = Object.fromEntries(recipe.modelIds.map((id, i) => [`w.${id}`, recipe.weights?.[i]]));
  return href("/merge", { anchor: recipe.anchorId, with: recipe.modelIds, method: recipe.method === "LAYERWISE" ? null : recipe.method, schedule: s?.kind === "LINEAR" || s?.groups?.length ? null : s?.kind, cutoff: s?.cutoff, knots: s?.knots?.join(","), base: recipe.baseModelId ?? null, ...weights, ...(recipe.params ?? {}) });
}

function Pick({ search, names, ended }: { search: SearchView; names: Names; ended: boolean }) {
  const { best, bestSingle } = search;
  if (!best) return <p className="muted">{ended ? "No pick: the search ended without one." : "The pick appears when the search ends."}</p>;
  const single = search.pickIsSingle === true;
  const objective = search.settings.objective.kind;
  return (
    <div className={`pick-box${single ? " single" : ""}`} data-testid="search-pick" data-key={best.key}>
      {single ? (
        <p>
          <strong>Don't merge — keep <Link to={`/models/${best.recipe.anchorId}`}>{names.get(best.recipe.anchorId) ?? best.recipe.anchorId}</Link>.</strong>{" "}
          No merge scored a higher {objective} than this model alone.
        </p>
      ) : (
        <p>
          Merge: <strong>{describeRecipe(best.recipe, names)}</strong> <Link to={builderHref(best.recipe)} className="small">open in the Merge builder</Link>
        </p>
      )}
      <dl className="fields">
        <dt>Objective ({objective})</dt>
        <dd>{objectiveText(best.objective)}</dd>
        {search.settings.audit ? (
          <>
            <dt>Audit score</dt>
            <dd>{percent(best.audit, 2)}</dd>
          </>
        ) : null}
        <dt>Pick confidence</dt>
        <dd>{percent(search.pickConfidence)} of 1,000 image-bootstrap resamples keep it first</dd>
        <dt>Margin over the best single model</dt>
        <dd>
          {signedObjective(search.marginVsBestSingle)}
          {bestSingle ? <span className="muted"> ({describeRecipe(bestSingle.recipe, names)}, rank {bestSingle.rank})</span> : null}
        </dd>
      </dl>
      {search.summary ? <p className="muted">{search.summary}</p> : null}
      {search.keptJobs.length ? (
        <p>
          Kept:{" "}
          {search.keptJobs.map((j, i) => (
            <span key={j.id}>
              {i ? ", " : ""}
              {j.model ? <Link to={`/models/${j.model.id}`} data-testid="kept-model">{j.model.name}@{j.model.version}</Link> : <Link to={href("/jobs", { job: j.id })}>merge job {j.id.slice(0, 8)} ({j.status.toLowerCase()})</Link>}
            </span>
          ))}
        </p>
      ) : null}
    </div>
  );
}

function Settings({ search, names }: { search: SearchView; names: Names }) {
  const catalog = useCatalog();
  const dataset = (id: string) => {
    const d = catalog.data?.datasets.edges.find((e) => e.node.id === id)?.node;
    return d ? datasetLabel(d) : id;
  };
  const s = search.settings;
  const model = (id: string) => <Link key={id} to={`/models/${id}`}>{names.get(id) ?? id}</Link>;
  const list = (ids: string[]) => ids.map((id, i) => <span key={id}>{i ? ", " : ""}{model(id)}</span>);
  return (
    <dl className="fields" data-testid="search-settings">
      <dt>Pool</dt>
      <dd>{list(s.modelIds)}</dd>
      <dt>Anchors</dt>
      <dd>{s.anchorIds.length === s.modelIds.length ? "every pool model" : list(s.anchorIds)}</dd>
      <dt>Candidates</dt>
      <dd>{s.strategy.toLowerCase()}, up to {s.maxModels} model{s.maxModels === 1 ? "" : "s"} each{s.includeSingles ? ", singles included" : ""}; methods {s.methods.map((m) => m.toLowerCase()).join(", ")}</dd>
      <dt>Objective</dt>
      <dd>{s.objective.kind} on {dataset(s.objective.datasetId)}, first {count(s.objective.limit)} images, seed {s.objective.seed}</dd>
      <dt>Audit</dt>
      <dd>{s.audit ? `${dataset(s.audit.datasetId)}, first ${count(s.audit.limit)} images (never used to choose)` : "none"}</dd>
      <dt>Budget</dt>
      <dd>{count(s.budget.maxCandidates)} candidates{s.budget.maxSeconds !== null ? `, ${s.budget.maxSeconds} s` : ""}; {count(search.planned)} planned{search.truncated ? " (cut at the budget)" : ""}</dd>
      <dt>Keep</dt>
      <dd>{s.keep === "TOP_K" ? `the top ${s.topK}` : s.keep.toLowerCase()}</dd>
      <dt>Started</dt>
      <dd>{date(search.createdAt)}{search.finishedAt ? ` · ended ${date(search.finishedAt)}` : ""}</dd>
    </dl>
  );
}

export function SearchPage({ id }: { id: string }) {
  const [pollFallback, setPollFallback] = useState(false);
  const result = useQuery<{ mergeSearch: SearchView | null }>(SEARCH, { id }, { pollMs: pollFallback ? POLL_MS : undefined, keepPrevious: true });
  const search = result.data?.mergeSearch;
  const queriedJob = search?.job ?? null;
  const live = queriedJob ? isLive(queriedJob.status) : false;
  const [refresh, setRefresh] = useState(0);
  const onEnd = useCallback(() => {
    result.refetch();
    setRefresh((r) => r + 1);
  }, [result.refetch]);
  // The merges that keep registers run after the search: followed too, so their models appear.
  const liveKept = search?.keptJobs.filter((j) => isLive(j.status)).map((j) => j.id) ?? [];
  const { updates, failed } = useJobUpdates([...(live && queriedJob ? [queriedJob.id] : []), ...liveKept], onEnd);
  const following = live || liveKept.length > 0;
  useEffect(() => setPollFallback(failed && following), [failed, following]);
  // Scored rows appear while the search runs; the end itself comes through onEnd.
  useEffect(() => {
    if (!live) return;
    const timer = setInterval(() => setRefresh((r) => r + 1), REFRESH_MS);
    return () => clearInterval(timer);
  }, [live]);
  const names = useModelNames(search?.settings.modelIds ?? []);

  if (result.error && !search) return <ErrorMessage error={result.error} retry={result.refetch} />;
  if (!result.data) return <Loading what="the search" />;
  if (!search) return <p className="state error">No merge search with id {id}.</p>;
  const job = queriedJob ? withUpdate(queriedJob, updates[queriedJob.id]) : null;
  return (
    <section>
      <div className="page-head">
        <h1>Merge search {search.id.slice(0, 8)}</h1>
        <Link to="/searches">All searches</Link>
      </div>
      <div className="columns">
        <div className="card">
          <h2>Status</h2>
          {job ? (
            <div data-testid="search-status" data-status={job.status} data-live={isLive(job.status) ? (failed ? "polling" : "subscribed") : undefined}>
              <ProgressBar value={job.progress} status={job.status} label="search progress" />
              <p aria-live="polite">{job.message ?? (job.status === "QUEUED" ? "Waiting for a worker…" : "")}</p>
              {job.status === "FAILED" ? (
                <p className="state error" role="alert"><strong>{job.errorCode ?? "FAILED"}:</strong> {job.error ?? "the search failed without a message"}</p>
              ) : null}
              {job.status === "CANCELLED" ? <p className="state warning">Cancelled; no candidate or model was kept.</p> : null}
              <CancelButton job={job} onDone={result.refetch} />
            </div>
          ) : <p className="muted">The search's job is gone.</p>}
          <h2>Settings</h2>
          <Settings search={search} names={names} />
        </div>
        <div className="card">
          <h2>Pick</h2>
          <Pick search={search} names={names} ended={!job || !isLive(job.status)} />
          {search.settings.audit ? (
            <>
              <h2>Objective vs audit</h2>
              <ObjectiveAuditScatter searchId={search.id} names={names} pickKey={search.best?.key ?? null} spearman={search.spearman} refresh={refresh} />
            </>
          ) : null}
        </div>
      </div>
      <CandidateTable searchId={search.id} names={names} pickKey={search.best?.key ?? null} hasAudit={Boolean(search.settings.audit)} refresh={refresh} />
    </section>
  );
}
