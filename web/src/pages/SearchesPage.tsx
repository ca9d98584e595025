import { useQuery } from "../api/useQuery";
import { Empty, ErrorMessage, Loading } from "../components/States";
import { date, percent } from "../format";
import { Link, useQueryParams } from "../router";

interface Recipe {
  anchorId: string;
  modelIds: string[];
  method: string | null;
  schedule: { kind: string; cutoff?: number | null; groups?: unknown[] } | null;
  weights: number[] | null;
}
interface Candidate {
  key: string;
  rank: number;
  isSingle: boolean;
  objective: number | null;
  audit: number | null;
  seconds: number;
  recipe: Recipe;
}
interface Search {
  id: string;
  planned: number;
  truncated: boolean;
  createdAt: string;
  settings: { objective: { kind: string }; audit: unknown; modelIds: string[] };
  job: { id: string; status: string; progress: number; message: string | null } | null;
  summary: string | null;
  spearman: number | null;
  pickConfidence: number | null;
  marginVsBestSingle: number | null;
  pickIsSingle: boolean | null;
  candidates?: { totalCount: number; edges: Array<{ node: Candidate }> };
}

const LIST = `{ mergeSearches(first: 50) { edges { node { id planned truncated createdAt settings job { id status progress message } summary } } } }`;
const ONE = `query Search($id: ID!) { mergeSearch(id: $id) {
  id planned truncated createdAt settings job { id status progress message } summary spearman pickConfidence marginVsBestSingle pickIsSingle
  candidates(first: 200) { totalCount edges { node { key rank isSingle objective audit seconds recipe } } }
} models(first: 500) { edges { node { id name version } } } }`;

function describe(r: Recipe, names: Map<string, string>): string {
  const n = (id: string) => names.get(id) ?? id.slice(0, 8);
  if (!r.modelIds.length) return `${n(r.anchorId)} alone`;
  const schedule = r.schedule ? `${r.schedule.kind}${r.schedule.kind === "STEP" ? ` ${r.schedule.cutoff}` : ""}${r.schedule.groups ? " + group knots" : ""}` : "";
  return `${n(r.anchorId)} ← ${r.modelIds.map(n).join(" + ")} · ${(r.method ?? "").toLowerCase()} ${schedule}${r.weights ? ` w=${r.weights.join(",")}` : ""}`;
}

/** Objective against audit, one dot per candidate (singles hollow); the pick is ringed. */
function Scatter({ candidates }: { candidates: Candidate[] }) {
  const points = candidates.filter((c) => c.objective !== null && c.audit !== null) as Array<Candidate & { objective: number; audit: number }>;
  if (points.length < 2) return null;
  const W = 420, H = 260, P = 36;
  const xs = points.map((p) => p.objective), ys = points.map((p) => p.audit);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const sx = (v: number) => P + ((v - x0) / (x1 - x0 || 1)) * (W - 2 * P);
  const sy = (v: number) => H - P - ((v - y0) / (y1 - y0 || 1)) * (H - 2 * P);
  return (
    <svg className="scatter" width={W} height={H} role="img" aria-label="objective against audit score per candidate" data-testid="search-scatter">
      <line x1={P} y1={H - P} x2={W - P} y2={H - P} stroke="currentColor" opacity={0.4} />
      <line x1={P} y1={P} x2={P} y2={H - P} stroke="currentColor" opacity={0.4} />
      <text x={W / 2} y={H - 6} textAnchor="middle" fontSize="11">objective (used to choose) →</text>
      <text x={10} y={H / 2} fontSize="11" transform={`rotate(-90 10 ${H / 2})`} textAnchor="middle">audit (never used) →</text>
      {points.map((p) => (
        <circle key={p.key} cx={sx(p.objective)} cy={sy(p.audit)} r={p.rank === 1 ? 6 : 3.5} fill={p.isSingle ? "none" : "currentColor"} stroke="currentColor" opacity={p.rank === 1 ? 1 : 0.7}>
          <title>{`rank ${p.rank}: objective ${p.objective.toFixed(4)}, audit ${percent(p.audit)}`}</title>
        </circle>
      ))}
    </svg>
  );
}

/** Merge searches: the list, and one search's ranked candidates with how sure its pick is. */
export function SearchesPage() {
  const [params, setParams] = useQueryParams();
  const id = params.get("search");
  const list = useQuery<{ mergeSearches: { edges: Array<{ node: Search }> } }>(LIST, {}, { pollMs: 3000 });
  const one = useQuery<{ mergeSearch: Search | null; models: { edges: Array<{ node: { id: string; name: string; version: string } }> } }>(ONE, { id }, { skip: !id, pollMs: 2000 });
  const names = new Map((one.data?.models.edges ?? []).map((e) => [e.node.id, `${e.node.name}@${e.node.version}`]));
  const s = one.data?.mergeSearch;
  const candidates = s?.candidates?.edges.map((e) => e.node) ?? [];
  return (
    <section>
      <div className="page-head">
        <h1>Merge searches</h1>
      </div>
      {list.error ? <ErrorMessage error={list.error} retry={list.refetch} /> : null}
      {!list.data && !list.error ? <Loading what="the searches" /> : null}
      {list.data && !list.data.mergeSearches.edges.length ? <Empty>No search yet: start one with startMergeSearch or <code>npx layermerge search</code>.</Empty> : null}
      {list.data?.mergeSearches.edges.length ? (
        <ul className="search-list" data-testid="search-list">
          {list.data.mergeSearches.edges.map(({ node }) => (
            <li key={node.id}>
              <button type="button" className="link-button" aria-current={node.id === id ? "true" : undefined} onClick={() => setParams({ search: node.id }, { push: true })}>
                {node.settings.objective.kind} over {node.settings.modelIds.length} models · {node.planned} candidates
              </button>{" "}
              <span className="muted">{node.job?.status.toLowerCase()} · {date(node.createdAt).slice(0, 16)}</span>
            </li>
          ))}
        </ul>
      ) : null}
      {one.error ? <ErrorMessage error={one.error} retry={one.refetch} /> : null}
      {s ? (
        <div data-testid="search">
          <h2>{s.settings.objective.kind} search</h2>
          {s.job && s.job.status !== "SUCCEEDED" ? <p>{s.job.status.toLowerCase()}: {s.job.message}</p> : null}
          {s.summary ? <p className={s.pickIsSingle ? "verdict single" : "verdict"} data-testid="search-summary">{s.summary}</p> : null}
          <p className="muted">
            Pick confidence {s.pickConfidence === null ? "—" : `${(s.pickConfidence * 100).toFixed(1)} %`} of 1,000 bootstrap resamples · margin over the best single model{" "}
            {s.marginVsBestSingle === null ? "—" : s.marginVsBestSingle.toFixed(4)}
            {s.spearman !== null ? ` · Spearman ρ(objective, audit) ${s.spearman.toFixed(3)}` : ""}
            {s.truncated ? " · the plan was cut at the budget" : ""}
          </p>
          {s.settings.audit ? <Scatter candidates={candidates} /> : null}
          <div className="table-scroll">
            <table className="data" data-testid="search-candidates">
              <thead>
                <tr>
                  <th scope="col" className="num">Rank</th>
                  <th scope="col">Candidate</th>
                  <th scope="col" className="num">Objective</th>
                  <th scope="col" className="num">Audit</th>
                  <th scope="col" className="num">Seconds</th>
                </tr>
              </thead>
              <tbody>
                {candidates.map((c) => (
                  <tr key={c.key} className={c.isSingle ? undefined : "merged"}>
                    <td className="num">{c.rank}</td>
                    <td>{c.isSingle ? <Link to={`/models/${c.recipe.anchorId}`}>{describe(c.recipe, names)}</Link> : describe(c.recipe, names)}</td>
                    <td className="num">{c.objective === null ? "—" : c.objective.toFixed(4)}</td>
                    <td className="num">{percent(c.audit)}</td>
                    <td className="num">{c.seconds.toFixed(2)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      ) : id && !one.error ? <Loading what="the search" /> : null}
    </section>
  );
}
