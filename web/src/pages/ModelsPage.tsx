import { useEffect, useState } from "react";
import { datasetLabel, useCatalog } from "../api/useCatalog";
import { useMostScoredDataset } from "../api/useMostScoredDataset";
import { useQuery } from "../api/useQuery";
import { Empty, ErrorMessage, Loading } from "../components/States";
import { date, percent } from "../format";
import { Link, useQueryParams } from "../router";
import { useDebounced } from "../useDebounced";

const PAGE = 25;

interface ModelRow {
  id: string;
  name: string;
  version: string;
  origin: string;
  udaStrategy: string | null;
  architecture: string | null;
  tags: string[];
  createdAt: string;
  task: { key: string };
  backbone: { name: string } | null;
  sourceDataset: { name: string } | null;
  targetDataset: { name: string } | null;
  score?: number | null;
}
interface ModelsData {
  models: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: Array<{ node: ModelRow }> };
}

const ROW = `id name version origin udaStrategy architecture tags createdAt task { key } backbone { name } sourceDataset { name } targetDataset { name }`;

/**
 * The score column is each model's canonical score on one dataset (Model.score, batched by the
 * server for the page) — the chosen one, else the dataset with the most canonical scores — never every
 * evaluation of every row. The same dataset makes SCORE sorting possible (ModelOrderBy.datasetId).
 */
function modelsQuery(withScore: boolean): string {
  return `query Models($where: ModelWhere, $orderBy: ModelOrderBy, $first: Int, $after: String${withScore ? ", $scoreOn: ID!" : ""}) {
    models(where: $where, orderBy: $orderBy, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { ${ROW}${withScore ? " score(datasetId: $scoreOn)" : ""} } }
    }
  }`;
}

export function ModelsPage() {
  const [params, setParams] = useQueryParams();
  const catalog = useCatalog();
  const get = (k: string) => params.get(k) ?? "";
  const [name, setName] = useState(get("name"));
  const [strategy, setStrategy] = useState(get("strategy"));
  const [tags, setTags] = useState(get("tags"));
  const typed = useDebounced({ name, strategy, tags });
  const [cursors, setCursors] = useState<string[]>([]);

  useEffect(() => {
    if (typed.name !== get("name") || typed.strategy !== get("strategy") || typed.tags !== get("tags")) {
      setParams({ ...typed, after: null });
      setCursors([]);
    }
  }, [typed]);

  const setFilter = (changes: Record<string, string | null>) => {
    setParams({ ...changes, after: null });
    setCursors([]);
  };

  const datasets = catalog.data?.datasets.edges.map((e) => e.node) ?? [];
  const scoreOn = get("scoreOn");
  // Counted even when a dataset is chosen, so the picker can name the default.
  const mostScored = useMostScoredDataset(catalog.error ? [] : catalog.data ? datasets.map((d) => d.id) : undefined);
  const scoreDataset = scoreOn || mostScored.id;
  const scoreName = datasets.find((d) => d.id === scoreDataset)?.name;
  const defaultName = datasets.find((d) => d.id === mostScored.id)?.name;
  const sort = get("sort") || "created";
  const direction = get("dir");
  const where: Record<string, unknown> = {};
  if (get("task")) where.taskId = get("task");
  if (get("backbone")) where.backboneId = get("backbone");
  if (get("strategy")) where.udaStrategy = get("strategy");
  if (get("origin")) where.origin = get("origin");
  if (get("dataset")) where.datasetId = get("dataset");
  if (get("name")) where.nameContains = get("name");
  const tagList = get("tags").split(",").map((t) => t.trim()).filter(Boolean);
  if (tagList.length) where.tagsAll = tagList;
  const field = sort === "name" ? "NAME" : sort === "score" && scoreDataset ? "SCORE" : "CREATED_AT";
  const orderBy: Record<string, unknown> = { field };
  if (direction) orderBy.direction = direction;
  if (field === "SCORE") orderBy.datasetId = scoreDataset;
  const variables: Record<string, unknown> = { where, orderBy, first: PAGE, after: get("after") || null };
  if (scoreDataset) variables.scoreOn = scoreDataset;
  // Without a chosen dataset the query waits for the default (two quick reads), so the table is
  // not fetched twice, once without scores and once with.
  const result = useQuery<ModelsData>(modelsQuery(Boolean(scoreDataset)), variables, { keepPrevious: true, skip: !scoreOn && !mostScored.resolved });
  const connection = result.data?.models;
  const page = cursors.length + 1;

  return (
    <section>
      <div className="page-head">
        <h1>Models</h1>
        {connection ? <p className="muted" data-testid="models-count">{connection.totalCount} matching</p> : null}
      </div>
      <form className="filters" aria-label="Filter models" onSubmit={(e) => e.preventDefault()}>
        <label>
          Name contains
          <input type="search" value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. gta" />
        </label>
        <label>
          Task
          <select value={get("task")} onChange={(e) => setFilter({ task: e.target.value })}>
            <option value="">any</option>
            {catalog.data?.tasks.map((t) => <option key={t.id} value={t.id}>{t.name} ({t.key})</option>)}
          </select>
        </label>
        <label>
          Backbone
          <select value={get("backbone")} onChange={(e) => setFilter({ backbone: e.target.value })}>
            <option value="">any</option>
            {catalog.data?.backbones.map((b) => <option key={b.id} value={b.id}>{b.name}</option>)}
          </select>
        </label>
        <label>
          UDA strategy
          <input value={strategy} onChange={(e) => setStrategy(e.target.value)} placeholder="e.g. DAFormer" />
        </label>
        <label>
          Origin
          <select value={get("origin")} onChange={(e) => setFilter({ origin: e.target.value })}>
            <option value="">any</option>
            <option value="TRAINED">trained</option>
            <option value="MERGED">merged</option>
            <option value="IMPORTED">imported</option>
          </select>
        </label>
        <label>
          Dataset (source or target)
          <select value={get("dataset")} onChange={(e) => setFilter({ dataset: e.target.value })}>
            <option value="">any</option>
            {datasets.map((d) => <option key={d.id} value={d.id}>{datasetLabel(d)}</option>)}
          </select>
        </label>
        <label>
          Tags (all of, comma-separated)
          <input value={tags} onChange={(e) => setTags(e.target.value)} placeholder="e.g. seed0, best" />
        </label>
        <label>
          Score on
          <select value={scoreOn} onChange={(e) => setFilter({ scoreOn: e.target.value })}>
            <option value="">{defaultName ? `most scored (${defaultName})` : mostScored.resolved ? "choose a dataset" : "most scored…"}</option>
            {datasets.map((d) => <option key={d.id} value={d.id}>{datasetLabel(d)}</option>)}
          </select>
        </label>
        <label>
          Sort by
          <select value={field === "SCORE" ? "score" : field === "NAME" ? "name" : "created"} onChange={(e) => setFilter({ sort: e.target.value === "created" ? null : e.target.value, dir: null })}>
            <option value="created">created</option>
            <option value="name">name</option>
            <option value="score" disabled={!scoreDataset}>
              score{scoreDataset ? ` on ${scoreName ?? "the dataset"}` : " (choose “Score on” first)"}
            </option>
          </select>
        </label>
        <label>
          Order
          <select value={direction} onChange={(e) => setFilter({ dir: e.target.value })}>
            <option value="">default ({field === "NAME" ? "A→Z" : field === "SCORE" ? "best first" : "newest first"})</option>
            <option value="ASC">ascending</option>
            <option value="DESC">descending</option>
          </select>
        </label>
        {Object.keys(where).length || scoreOn || get("sort") ? (
          <button type="button" className="link-button" onClick={() => { setName(""); setStrategy(""); setTags(""); window.history.replaceState(null, "", "/models"); window.dispatchEvent(new PopStateEvent("popstate")); setCursors([]); }}>
            Clear filters
          </button>
        ) : null}
      </form>
      {catalog.error ? <ErrorMessage error={catalog.error} retry={catalog.refetch} /> : null}
      {result.error ? <ErrorMessage error={result.error} retry={result.refetch} /> : null}
      {!connection && (result.loading || !mostScored.resolved) && !result.error ? <Loading what="models" /> : null}
      {connection && connection.edges.length === 0 ? (
        <Empty>
          {Object.keys(where).length ? "No model matches these filters." : "No models yet. Register one with "}
          {Object.keys(where).length ? null : <code>npx layermerge register</code>}
          {Object.keys(where).length ? null : " or the registerModel mutation (see the GraphQL explorer)."}
        </Empty>
      ) : null}
      {connection && connection.edges.length ? (
        <>
          <div className="table-scroll">
            <table className="data" data-testid="models-table" aria-busy={result.loading}>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Task</th>
                  <th scope="col">Backbone</th>
                  <th scope="col">Strategy</th>
                  <th scope="col">Origin</th>
                  <th scope="col">Datasets</th>
                  <th scope="col">Tags</th>
                  <th scope="col" className="num" title={scoreOn ? "canonical score on the chosen dataset" : scoreDataset ? "canonical score on the dataset with the most scores; choose another under “Score on”" : "no model has a score yet: choose a dataset under “Score on”"}>
                    {scoreName ? `Score (${scoreName})` : "Score"}
                  </th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {connection.edges.map(({ node }) => {
                  return (
                    <tr key={node.id}>
                      <td>
                        <Link to={`/models/${node.id}`}>{node.name}</Link>
                        <span className="muted"> @{node.version}</span>
                      </td>
                      <td>{node.task.key}</td>
                      <td>{node.backbone?.name ?? "—"}</td>
                      <td>{node.udaStrategy ?? "—"}</td>
                      <td><span className={`badge origin-${node.origin.toLowerCase()}`}>{node.origin.toLowerCase()}</span></td>
                      <td>{node.sourceDataset || node.targetDataset ? `${node.sourceDataset?.name ?? "?"} → ${node.targetDataset?.name ?? "?"}` : "—"}</td>
                      <td>{node.tags.length ? node.tags.map((t) => <span key={t} className="tag">{t}</span>) : "—"}</td>
                      <td className="num">
                        {scoreDataset ? percent(node.score) : "—"}
                      </td>
                      <td className="nowrap">{date(node.createdAt).slice(0, 16)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          <nav className="pager" aria-label="Pages">
            <button type="button" disabled={!get("after")} onClick={() => { const prev = [...cursors]; const back = prev.pop(); setCursors(prev); setParams({ after: back || null }); }}>
              ← Previous
            </button>
            <span>Page {page}{get("after") && page === 1 ? " (from a shared link)" : ""}</span>
            <button type="button" disabled={!connection.pageInfo.hasNextPage} onClick={() => { setCursors([...cursors, get("after")]); setParams({ after: connection.pageInfo.endCursor }); }}>
              Next →
            </button>
          </nav>
        </>
      ) : null}
    </section>
  );
}
