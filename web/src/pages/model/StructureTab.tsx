import { useMemo, useState } from "react";
import { useQuery } from "../../api/useQuery";
import { Empty, ErrorMessage, Loading } from "../../components/States";
import { count } from "../../format";
import { useQueryParams } from "../../router";

interface StructureData {
  model: {
    structure: {
      hash: string;
      tensorCount: number;
      parameterCount: number;
      groups: Array<{ prefix: string; tensorCount: number; parameterCount: number }>;
      parameterCountByDtype: Array<{ dtype: string; tensorCount: number; parameterCount: number }>;
    } | null;
  } | null;
}
interface TensorPage {
  model: {
    structure: {
      tensors: {
        totalCount: number;
        pageInfo: { hasNextPage: boolean; endCursor: string | null };
        edges: Array<{ node: { position: number; name: string; shape: number[]; dtype: string; layerIndex: number; group: string; mergeable: boolean; elements: number } }>;
      };
    } | null;
  } | null;
}

/** The server pages tensors (≤ 1000 a page) but cannot search names, so a page is searched here. */
const CHUNK = 1000;
const SHOWN = 100;

export function StructureTab({ modelId }: { modelId: string }) {
  const [params, setParams] = useQueryParams();
  const group = params.get("group") ?? "";
  const [search, setSearch] = useState(params.get("q") ?? "");
  const [after, setAfter] = useState<string | null>(null);
  const [limit, setLimit] = useState(SHOWN);
  const summary = useQuery<StructureData>(
    `query Structure($id: ID!) { model(id: $id) { id structure { hash tensorCount parameterCount groups { prefix tensorCount parameterCount } parameterCountByDtype { dtype tensorCount parameterCount } } } }`,
    { id: modelId },
  );
  const tensors = useQuery<TensorPage>(
    `query Tensors($id: ID!, $group: String, $after: String, $first: Int) { model(id: $id) { id structure { tensors(group: $group, after: $after, first: $first) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { position name shape dtype layerIndex group mergeable elements } } } } } }`,
    { id: modelId, group: group || null, after, first: CHUNK },
  );
  const page = tensors.data?.model?.structure?.tensors;
  const matching = useMemo(() => {
    const needle = search.trim().toLowerCase();
    const rows = page?.edges.map((e) => e.node) ?? [];
    return needle ? rows.filter((t) => t.name.toLowerCase().includes(needle)) : rows;
  }, [page, search]);

  if (summary.error) return <ErrorMessage error={summary.error} retry={summary.refetch} />;
  if (!summary.data) return <Loading what="the structure" />;
  const structure = summary.data.model?.structure;
  if (!structure) return <Empty>This model has no recorded structure: it was created without weights (createModel), not registered from a file.</Empty>;

  return (
    <div className="columns wide-right">
      <div className="card">
        <h2>Groups</h2>
        <p className="muted">
          {count(structure.tensorCount)} tensors, {count(structure.parameterCount)} mergeable parameters;{" "}
          {structure.parameterCountByDtype.map((d) => `${d.dtype} ${count(d.tensorCount)}`).join(", ")}
        </p>
        <div className="table-scroll">
          <table className="data">
            <thead>
              <tr>
                <th scope="col">Group (module prefix)</th>
                <th scope="col" className="num">Tensors</th>
                <th scope="col" className="num">Parameters</th>
              </tr>
            </thead>
            <tbody>
              {structure.groups.map((g) => (
                <tr key={g.prefix} className={g.prefix === group ? "selected" : undefined}>
                  <td>
                    <button type="button" className="link-button" aria-pressed={g.prefix === group} onClick={() => { setAfter(null); setLimit(SHOWN); setParams({ group: g.prefix === group ? null : g.prefix }); }}>
                      {g.prefix}
                    </button>
                  </td>
                  <td className="num">{count(g.tensorCount)}</td>
                  <td className="num">{count(g.parameterCount)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
      <div className="card">
        <h2>Tensors{group ? ` in ${group}` : ""}</h2>
        <div className="filters inline">
          <label>
            Search names
            <input type="search" value={search} onChange={(e) => { setSearch(e.target.value); setLimit(SHOWN); setParams({ q: e.target.value || null }); }} placeholder="e.g. conv.weight" />
          </label>
          <label>
            Group
            <select value={group} onChange={(e) => { setAfter(null); setLimit(SHOWN); setParams({ group: e.target.value || null }); }}>
              <option value="">all groups</option>
              {structure.groups.map((g) => <option key={g.prefix} value={g.prefix}>{g.prefix}</option>)}
            </select>
          </label>
        </div>
        {tensors.error ? <ErrorMessage error={tensors.error} retry={tensors.refetch} /> : null}
        {!page ? <Loading what="tensors" /> : (
          <>
            <p className="muted" aria-live="polite">
              {search ? `${matching.length} of ${page.edges.length} loaded tensors match` : `${page.totalCount} tensors`}
              {page.totalCount > CHUNK ? ` (searching the ${count(CHUNK)} from this position; more pages below)` : ""}
            </p>
            {matching.length === 0 ? <Empty>No tensor name contains “{search}”.</Empty> : (
              <div className="table-scroll">
                <table className="data compact" data-testid="tensor-table">
                  <thead>
                    <tr>
                      <th scope="col" className="num">#</th>
                      <th scope="col">Name</th>
                      <th scope="col">Shape</th>
                      <th scope="col">Dtype</th>
                      <th scope="col" className="num">Layer</th>
                      <th scope="col" className="num">Elements</th>
                    </tr>
                  </thead>
                  <tbody>
                    {matching.slice(0, limit).map((t) => (
                      <tr key={t.position}>
                        <td className="num">{t.position}</td>
                        <td><code>{t.name}</code></td>
                        <td><code>[{t.shape.join(", ")}]</code></td>
                        <td>{t.dtype}{t.mergeable ? "" : <span className="muted"> (copied, not merged)</span>}</td>
                        <td className="num">{t.layerIndex}</td>
                        <td className="num">{count(t.elements)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            <div className="pager">
              {matching.length > limit ? <button type="button" onClick={() => setLimit(limit + SHOWN)}>Show {Math.min(SHOWN, matching.length - limit)} more</button> : null}
              {after ? <button type="button" onClick={() => setAfter(null)}>Back to the first {count(CHUNK)}</button> : null}
              {page.pageInfo.hasNextPage ? <button type="button" onClick={() => { setAfter(page.pageInfo.endCursor); setLimit(SHOWN); }}>Next {count(CHUNK)} tensors →</button> : null}
            </div>
          </>
        )}
      </div>
    </div>
  );
}
