import { useState } from "react";
import { gql, RequestError } from "../api/client";
import { useQuery } from "../api/useQuery";
import { permission, useViewer } from "../api/viewer";
import { JobPanel } from "../components/JobPanel";
import { Empty, ErrorMessage, GuardedButton, Loading } from "../components/States";
import { WeightCurves } from "../components/WeightCurves";
import { bytes, count, percent, weight } from "../format";
import { Link, useQueryParams } from "../router";
import { useDebounced } from "../useDebounced";
import { buildMergeInput, PARAM_FIELDS, type BuilderState } from "./merge/buildMergeInput";
import { METHODS_QUERY, type MethodInfo } from "./merge/methodInfo";
import { SearchForm } from "./merge/SearchForm";
import { CANDIDATES, type CandidatesData, GroupOverlap } from "./model/CandidatesTab";

interface Plan {
  method: string;
  layerCount: number;
  layers: Array<{ index: number; weights: number[]; mergedTensors: number }>;
  inputs: Array<{ model: { id: string; name: string }; role: string; meanWeight: number | null }>;
  mergedTensorCount: number;
  copiedTensorCount: number;
  mergedElements: number;
  expectedOutputBytes: number;
  inputBytes: number;
}

const PLAN = `query Plan($input: StartMergeInput!) { mergePlan(input: $input) {
  method layerCount layers { index weights mergedTensors } inputs { model { id name } role meanWeight }
  mergedTensorCount copiedTensorCount mergedElements expectedOutputBytes inputBytes
} }`;
const SCHEDULES = [
  { kind: "LINEAR", text: "linear: s(t) = t (the paper's default)" },
  { kind: "COSINE", text: "cosine: s(t) = (1 − cos πt)/2" },
  { kind: "STEP", text: "step: anchor only from t ≥ cutoff" },
  { kind: "UNIFORM", text: "uniform: s = 0 (plain model soup)" },
  { kind: "CUSTOM", text: "custom knots over t" },
];

function AnchorPicker({ onPick }: { onPick: (id: string) => void }) {
  const [search, setSearch] = useState("");
  const typed = useDebounced(search);
  const result = useQuery<{ models: { edges: Array<{ node: { id: string; name: string; version: string; origin: string; structure: { tensorCount: number } | null } }> } }>(
    `query Anchors($name: String) { models(where: { nameContains: $name }, orderBy: { field: NAME }, first: 20) { edges { node { id name version origin structure { tensorCount } } } } }`,
    { name: typed || null },
  );
  const models = result.data?.models.edges.map((e) => e.node).filter((m) => m.structure) ?? [];
  return (
    <div className="card">
      <h2>1. Anchor</h2>
      <p className="muted">The anchor's graph and every tensor it does not share come through unchanged; late layers stay close to it.</p>
      <label>
        Find a model with weights
        <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="name contains…" />
      </label>
      {result.error ? <ErrorMessage error={result.error} retry={result.refetch} /> : null}
      {!result.data && !result.error ? <Loading what="models" /> : null}
      {result.data && !models.length ? <Empty>No registered model with weights matches.</Empty> : null}
      <ul className="pick-list">
        {models.map((m) => (
          <li key={m.id}>
            <button type="button" onClick={() => onPick(m.id)}>
              {m.name}@{m.version} <span className="muted">{m.origin.toLowerCase()}, {m.structure?.tensorCount} tensors</span>
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

export function MergeBuilderPage() {
  const [params, setParams] = useQueryParams();
  const { viewer, askForToken } = useViewer();
  const [startError, setStartError] = useState<RequestError>();
  const [starting, setStarting] = useState(false);
  const list = (k: string) => (params.get(k) ?? "").split(",").filter(Boolean);
  const state: BuilderState = {
    anchor: params.get("anchor") ?? "",
    contributors: list("with"),
    method: params.get("method") ?? "LAYERWISE",
    base: params.get("base") ?? "",
    schedule: params.get("schedule") ?? "",
    cutoff: params.get("cutoff") ?? "",
    knots: params.get("knots") ?? "",
    weights: Object.fromEntries(list("with").map((id) => [id, params.get(`w.${id}`) ?? ""])),
    params: Object.fromEntries(PARAM_FIELDS.map((f) => [f, params.get(f) ?? ""])),
    outputName: params.get("name") ?? "",
    outputTags: params.get("tags") ?? "",
  };
  const jobId = params.get("job");

  const methods = useQuery<{ mergeMethods: MethodInfo[] }>(METHODS_QUERY);
  const anchor = useQuery<{ model: { id: string; name: string; version: string } | null }>(`query($id: ID!) { model(id: $id) { id name version } }`, { id: state.anchor }, { skip: !state.anchor });
  const candidates = useQuery<CandidatesData>(CANDIDATES, { id: state.anchor, min: 0.1, sameTask: false }, { skip: !state.anchor });
  const method = methods.data?.mergeMethods.find((m) => m.name === state.method);
  // No schedule in the address: the method's own default (UNIFORM for MODEL_STOCK, else LINEAR).
  const defaultSchedule = method?.defaultSchedule ?? "LINEAR";
  const schedule = state.schedule || defaultSchedule;
  const built = buildMergeInput({ ...state, schedule }, method?.needsBase ?? false);
  const planInput = useDebounced(built.input, 250);
  const plan = useQuery<{ mergePlan: Plan }>(PLAN, { input: planInput }, { skip: !planInput || !built.input, keepPrevious: true });
  const may = permission(viewer, "WRITER");

  const start = async () => {
    if (!built.input) return;
    setStarting(true);
    try {
      const { startMerge } = await gql<{ startMerge: { id: string } }>(`mutation Start($input: StartMergeInput!) { startMerge(input: $input) { id status } }`, { input: built.input });
      setStartError(undefined);
      setParams({ job: startMerge.id }, { push: true });
    } catch (e) {
      setStartError(e as RequestError);
    } finally {
      setStarting(false);
    }
  };

  if (!state.anchor) {
    return (
      <section>
        <h1>Merge builder</h1>
        <AnchorPicker onPick={(id) => setParams({ anchor: id }, { push: true })} />
      </section>
    );
  }

  const toggle = (id: string) => {
    const next = state.contributors.includes(id) ? state.contributors.filter((c) => c !== id) : [...state.contributors, id];
    setParams({ with: next, job: null });
  };
  const candidateRows = candidates.data?.mergeCandidates.edges.map((e) => e.node) ?? [];
  const nameOf = (id: string) => candidateRows.find((c) => c.model.id === id)?.model.name ?? id;
  const p = plan.data?.mergePlan;

  return (
    <section>
      <div className="page-head">
        <h1>Merge builder</h1>
        <Link to="/merge">Start over</Link>
      </div>
      <div className="columns">
        <div>
          <div className="card">
            <h2>1. Anchor</h2>
            {anchor.error ? <ErrorMessage error={anchor.error} /> : null}
            {anchor.data?.model ? (
              <p>
                <Link to={`/models/${state.anchor}`} data-testid="anchor-name">{anchor.data.model.name}@{anchor.data.model.version}</Link>{" "}
                <button type="button" className="link-button" onClick={() => setParams({ anchor: null, with: null, base: null, job: null }, { push: true })}>
                  Choose another anchor
                </button>
              </p>
            ) : anchor.data ? <p className="state error">No model with id {state.anchor}.</p> : anchor.error ? null : <Loading what="the anchor" />}
          </div>
          <div className="card">
            <h2>2. Contributors</h2>
            <p className="muted">Models sharing at least 10 % of the anchor's parameters. Relative weights split 1 − w_a between them (blank = equal).</p>
            {candidates.error ? <ErrorMessage error={candidates.error} retry={candidates.refetch} /> : null}
            {!candidates.data && !candidates.error ? <Loading what="candidates" /> : null}
            {candidates.data && !candidateRows.length ? <Empty>No model shares parameters with this anchor.</Empty> : null}
            <ul className="contributors">
              {candidateRows.map((c) => {
                const checked = state.contributors.includes(c.model.id);
                return (
                  <li key={c.model.id} className={checked ? "chosen" : undefined}>
                    <label className="check">
                      <input type="checkbox" checked={checked} onChange={() => toggle(c.model.id)} data-testid="contributor-checkbox" />
                      <span>
                        <strong>{c.model.name}</strong>@{c.model.version} — shares {percent(c.sharedFraction)}
                      </span>
                    </label>
                    <GroupOverlap groups={c.groups} />
                    {checked ? (
                      <label className="inline-label">
                        Relative weight
                        <input type="number" step="any" min={0} value={state.weights[c.model.id]} placeholder="1" onChange={(e) => setParams({ [`w.${c.model.id}`]: e.target.value })} />
                      </label>
                    ) : null}
                  </li>
                );
              })}
            </ul>
          </div>
          <div className="card">
            <h2>3. Method and schedule</h2>
            {methods.error ? <ErrorMessage error={methods.error} retry={methods.refetch} /> : null}
            <div className="filters">
              <label>
                Method
                <select value={state.method} onChange={(e) => setParams({ method: e.target.value === "LAYERWISE" ? null : e.target.value })}>
                  {methods.data?.mergeMethods.map((m) => <option key={m.name} value={m.name}>{m.title}</option>)}
                </select>
              </label>
              <label>
                Schedule
                <select value={schedule} onChange={(e) => setParams({ schedule: e.target.value === defaultSchedule ? null : e.target.value })}>
                  {SCHEDULES.map((s) => <option key={s.kind} value={s.kind}>{s.text}</option>)}
                </select>
              </label>
              {schedule === "STEP" ? (
                <label>
                  Cutoff t (0–1)
                  <input type="number" step="0.05" min={0} max={1} value={state.cutoff} placeholder="0.5" onChange={(e) => setParams({ cutoff: e.target.value })} />
                </label>
              ) : null}
              {schedule === "CUSTOM" ? (
                <label>
                  Knots s at evenly spaced t (≥ 2 values in [0, 1])
                  <input value={state.knots} placeholder="0, 0.2, 1" onChange={(e) => setParams({ knots: e.target.value })} />
                </label>
              ) : null}
              {method?.parameters.map((param) => (
                <label key={param.name} title={param.description}>
                  {param.name} {param.default !== null ? `(default ${param.default})` : ""}
                  <input type="number" step="any" min={param.min ?? undefined} max={param.max ?? undefined} value={state.params[param.name] ?? ""} placeholder={param.default !== null ? String(param.default) : ""} onChange={(e) => setParams({ [param.name]: e.target.value })} />
                  <span className="hint">{param.description}</span>
                </label>
              ))}
              {method?.needsBase ? (
                <label>
                  Base model (common pre-trained weights)
                  <select value={state.base} onChange={(e) => setParams({ base: e.target.value })}>
                    <option value="">choose…</option>
                    {candidateRows.filter((c) => !state.contributors.includes(c.model.id)).map((c) => <option key={c.model.id} value={c.model.id}>{c.model.name}@{c.model.version}</option>)}
                  </select>
                </label>
              ) : null}
            </div>
            {method ? (
              <p className="muted">
                {method.description} — <em>{method.paperTitle}</em> (arXiv {method.arxiv})
              </p>
            ) : null}
          </div>
          <div className="card">
            <h2>4. Output</h2>
            <div className="filters">
              <label>
                Name
                <input value={state.outputName} placeholder="default: <anchor>-<method>-<recipe hash>" onChange={(e) => setParams({ name: e.target.value })} />
              </label>
              <label>
                Tags (comma-separated)
                <input value={state.outputTags} placeholder="e.g. soup, linear" onChange={(e) => setParams({ tags: e.target.value })} />
              </label>
            </div>
          </div>
          {state.contributors.length ? (
            <SearchForm
              anchor={state.anchor}
              contributors={state.contributors}
              methods={methods.data?.mergeMethods ?? []}
              builderMethod={state.method}
              builderBase={state.base}
              baseChoices={candidateRows.filter((c) => !state.contributors.includes(c.model.id)).map((c) => ({ id: c.model.id, label: `${c.model.name}@${c.model.version}` }))}
            />
          ) : null}
        </div>
        <div>
          <div className="card sticky">
            <h2>Preview</h2>
            {built.problem ? <p className="state">{built.problem}</p> : null}
            {!built.problem && plan.error ? <ErrorMessage error={plan.error} /> : null}
            {!built.problem && !plan.error && !p ? <Loading what="the plan" /> : null}
            {!built.problem && p ? (
              <div data-testid="merge-plan" aria-busy={plan.loading}>
                <dl className="fields stats">
                  <dt>Tensors merged</dt>
                  <dd data-testid="plan-merged">{count(p.mergedTensorCount)}</dd>
                  <dt>Tensors copied from the anchor</dt>
                  <dd>{count(p.copiedTensorCount)}</dd>
                  <dt>Parameters merged</dt>
                  <dd>{count(p.mergedElements)}</dd>
                  <dt>Output size</dt>
                  <dd>{bytes(p.expectedOutputBytes)} <span className="muted">(reads {bytes(p.inputBytes)})</span></dd>
                </dl>
                <WeightCurves
                  title={`w(l) over ${p.layerCount} layers`}
                  curves={p.inputs.filter((i) => i.role !== "BASE").map((input, k) => ({ label: `${input.model.name} (${input.role.toLowerCase()}, mean ${weight(input.meanWeight)})`, values: p.layers.map((l) => l.weights[k] ?? 0) }))}
                />
              </div>
            ) : null}
            <div className="actions">
              <GuardedButton id="start-merge" type="button" className="primary" allowed={may.allowed} reason={may.reason} onAskToken={() => askForToken()} disabled={!built.input || Boolean(plan.error) || starting} onClick={start}>
                {starting ? "Starting…" : `Start merge${state.contributors.length ? ` of ${1 + state.contributors.length} models` : ""}`}
              </GuardedButton>
            </div>
            {startError ? <ErrorMessage error={startError} /> : null}
            {state.contributors.length ? <p className="muted">Contributors: {state.contributors.map(nameOf).join(", ")}</p> : null}
            {jobId ? (
              <div className="job-section">
                <h3>Job</h3>
                <JobPanel id={jobId} />
              </div>
            ) : null}
          </div>
        </div>
      </div>
    </section>
  );
}
