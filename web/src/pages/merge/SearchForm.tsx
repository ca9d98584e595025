import { useState } from "react";
import { gql, RequestError } from "../../api/client";
import { useQuery } from "../../api/useQuery";
import { permission, useViewer } from "../../api/viewer";
import { ErrorMessage, GuardedButton } from "../../components/States";
import { navigate, useQueryParams } from "../../router";
import { OBJECTIVE_KINDS } from "../search/searchModel";
import type { MethodInfo } from "./methodInfo";
import { buildParamGrids, gridKey } from "./searchGrids";

interface DatasetRow { id: string; name: string; split: string; format: string; task: { id: string } }

const DATASETS = `query SearchDatasets($id: ID!) {
  model(id: $id) { task { id } }
  datasets(first: 500, orderBy: { field: NAME, direction: ASC }) { edges { node { id name split format task { id } } } }
}`;
const DEFAULT_BUDGET = 50;

function positiveInt(text: string, what: string): number | undefined {
  if (!text.trim()) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what} must be a whole number ≥ 1 (got “${text}”)`);
  return n;
}

interface Props {
  anchor: string;
  contributors: string[];
  /** The method registry (`mergeMethods`): the methods offered and each one's parameters. */
  methods: readonly MethodInfo[];
  /** The builder's method and base: the search's until changed here. */
  builderMethod: string;
  builderBase: string;
  baseChoices: Array<{ id: string; label: string }>;
}

/**
 * Starts a merge search over the builder's anchor and contributors (the pool; every pool model
 * may anchor). Defaults: INFO_MAX on the task's first unlabelled (IMAGES) dataset, which needs no
 * labels and ranked candidates best of the label-free criteria measured; no audit; 50 candidates;
 * the builder's method at its default parameters. A chosen method's parameters each take a list
 * of values to try (its grid). The choices live in the URL (s.*) with the rest of the builder.
 */
export function SearchForm({ anchor, contributors, methods, builderMethod, builderBase, baseChoices }: Props) {
  const [params, setParams] = useQueryParams();
  const { viewer, askForToken } = useViewer();
  const [error, setError] = useState<RequestError | Error>();
  const [starting, setStarting] = useState(false);
  const datasets = useQuery<{ model: { task: { id: string } } | null; datasets: { edges: Array<{ node: DatasetRow }> } }>(DATASETS, { id: anchor });
  const taskId = datasets.data?.model?.task.id;
  const ofTask = datasets.data?.datasets.edges.map((e) => e.node).filter((d) => d.task.id === taskId) ?? [];
  const labelled = ofTask.filter((d) => d.format !== "IMAGES");
  const kind = params.get("s.kind") ?? "INFO_MAX";
  const choices = kind === "SCORE" ? labelled : ofTask;
  const fallback = kind === "SCORE" ? labelled[0] : (ofTask.find((d) => d.format === "IMAGES") ?? ofTask[0]);
  const datasetId = choices.some((d) => d.id === params.get("s.data")) ? params.get("s.data")! : (fallback?.id ?? "");
  const auditId = labelled.some((d) => d.id === params.get("s.audit")) ? params.get("s.audit")! : "";
  const budget = params.get("s.budget") ?? String(DEFAULT_BUDGET);
  const limit = params.get("s.limit") ?? "";
  const keep = params.get("s.keep") ?? "NONE";
  const asked = params.get("s.methods");
  const chosen = methods.map((m) => m.name).filter((name) => (asked === null ? [builderMethod] : asked.split(",")).includes(name));
  const withBase = methods.filter((m) => m.needsBase && chosen.includes(m.name));
  const base = params.get("s.base") ?? builderBase;
  // None left is none asked: the builder's method again (the address cannot hold an empty list).
  const toggleMethod = (name: string) => setParams({ "s.methods": chosen.includes(name) ? chosen.filter((m) => m !== name) : [...chosen, name] });
  const pool = [anchor, ...contributors];
  const may = permission(viewer, "WRITER");
  const label = (d: DatasetRow) => `${d.name} (${d.split}${d.format === "IMAGES" ? ", unlabelled" : ""})`;

  const start = async () => {
    setStarting(true);
    try {
      const imageLimit = positiveInt(limit, "Images");
      const input = {
        modelIds: pool,
        methods: chosen,
        baseModelId: withBase.length && base ? base : undefined,
        paramGrids: buildParamGrids(methods, chosen, (key) => params.get(key) ?? ""),
        objective: { kind, datasetId, limit: imageLimit },
        audit: auditId ? { datasetId: auditId, limit: imageLimit } : undefined,
        budget: { maxCandidates: positiveInt(budget, "The budget") },
        keep,
      };
      const { startMergeSearch } = await gql<{ startMergeSearch: { id: string; mergeSearch: { id: string } | null } }>(
        `mutation StartSearch($input: MergeSearchInput!) { startMergeSearch(input: $input) { id mergeSearch { id } } }`,
        { input },
      );
      setError(undefined);
      navigate(startMergeSearch.mergeSearch ? `/searches/${startMergeSearch.mergeSearch.id}` : `/jobs?job=${startMergeSearch.id}`);
    } catch (e) {
      setError(e as Error);
    } finally {
      setStarting(false);
    }
  };

  return (
    <div className="card" data-testid="search-form">
      <h2>Or search merges of these {pool.length} models</h2>
      <p className="muted">
        Tries the singles, pairs and triples of the pool with each chosen method (every combination of the parameter values listed) under the
        default schedules and ranks them by the objective, without writing a model (unless “keep” asks). The pick may be a single model: then
        the answer is not to merge.
      </p>
      {datasets.error ? <ErrorMessage error={datasets.error} retry={datasets.refetch} /> : null}
      <div className="filters">
        <label>
          Objective
          <select aria-label="Objective" value={kind} onChange={(e) => setParams({ "s.kind": e.target.value === "INFO_MAX" ? null : e.target.value })}>
            {OBJECTIVE_KINDS.map((o) => <option key={o.kind} value={o.kind}>{o.kind} — {o.text}</option>)}
          </select>
        </label>
        <label>
          Objective dataset
          <select value={datasetId} onChange={(e) => setParams({ "s.data": e.target.value })}>
            {!choices.length ? <option value="">{kind === "SCORE" ? "no labelled dataset of this task" : "no dataset of this task"}</option> : null}
            {choices.map((d) => <option key={d.id} value={d.id}>{label(d)}</option>)}
          </select>
        </label>
        <label>
          Audit dataset (labelled; reported, never used to choose)
          <select value={auditId} onChange={(e) => setParams({ "s.audit": e.target.value })}>
            <option value="">none</option>
            {labelled.map((d) => <option key={d.id} value={d.id}>{label(d)}</option>)}
          </select>
        </label>
        <label>
          Budget (candidates)
          <input type="number" min={1} step={1} value={budget} onChange={(e) => setParams({ "s.budget": e.target.value })} />
        </label>
        <label>
          Images per dataset
          <input type="number" min={1} step={1} value={limit} placeholder="200 (the first in listing order)" onChange={(e) => setParams({ "s.limit": e.target.value })} />
        </label>
        <label>
          Keep
          <select value={keep} onChange={(e) => setParams({ "s.keep": e.target.value === "NONE" ? null : e.target.value })}>
            <option value="NONE">nothing (only rank)</option>
            <option value="BEST">the pick, if it is a merge</option>
          </select>
        </label>
      </div>
      <fieldset aria-label="Methods">
        <legend>Methods</legend>
        {methods.map((m) => (
          <label key={m.name} title={m.description}>
            <input type="checkbox" aria-label={`Method ${m.name}`} checked={chosen.includes(m.name)} onChange={() => toggleMethod(m.name)} /> {m.title}
          </label>
        ))}
      </fieldset>
      <div className="filters" data-testid="search-grids">
        {methods.filter((m) => chosen.includes(m.name)).flatMap((m) =>
          m.parameters.map((p) => (
            <label key={gridKey(m.name, p.name)} title={p.description}>
              {m.name} {p.name} values
              <input
                aria-label={`${m.name} ${p.name} values`}
                value={params.get(gridKey(m.name, p.name)) ?? ""}
                placeholder={`${p.default ?? ""} (default); e.g. ${[p.min, p.max].filter((v) => v !== null).join(" … ")}`}
                onChange={(e) => setParams({ [gridKey(m.name, p.name)]: e.target.value || null })}
              />
              <span className="hint">comma-separated; each value is tried with every other parameter's</span>
            </label>
          )),
        )}
        {withBase.length ? (
          <label>
            Base model for {withBase.map((m) => m.name).join(", ")}
            <select aria-label="Search base model" value={base} onChange={(e) => setParams({ "s.base": e.target.value })}>
              <option value="">choose…</option>
              {baseChoices.map((c) => <option key={c.id} value={c.id}>{c.label}</option>)}
            </select>
          </label>
        ) : null}
      </div>
      <div className="actions">
        <GuardedButton id="start-search" type="button" allowed={may.allowed} reason={may.reason} onAskToken={() => askForToken()} disabled={!datasetId || !chosen.length || starting} onClick={start}>
          {starting ? "Starting…" : `Start search over ${pool.length} models`}
        </GuardedButton>
      </div>
      {error ? <ErrorMessage error={error} /> : null}
    </div>
  );
}
