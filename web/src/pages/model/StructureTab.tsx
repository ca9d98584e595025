import { useEffect, useState } from "react";
import { useQuery } from "../../api/useQuery";
import { Empty, ErrorMessage, Loading } from "../../components/States";
import { count } from "../../format";
import { useQueryParams } from "../../router";
import { useDebounced } from "../../useDebounced";

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

/** Tensors a page; the server filters by name (nameContains) and group, so a page holds only matches. */
const PAGE = 100;

export function StructureTab({ modelId }: { modelId: string }) {
  const [params, setParams] = useQueryParams();
  const group = params.get("group") ?? "";
  const [search, setSearch] = useState(params.get("q") ?? "");
  const typed = useDebounced(search);
  const q = params.get("q") ?? "";
  // Cursors of the pages before this one (the URL keeps only the filters; paging restarts on a reload).
  const [cursors, setCursors] = useState<Array<string | null>>([]);
  const [after, setAfter] = useState<string | null>(null);
  useEffect(() => {
    if (typed !== q) {
      setParams({ q: typed || null });
      setCursors([]);
      setAfter(null);
    }
  }, [typed]);
  const setGroup = (next: string | null) => {
    setCursors([]);
    setAfter(null);
    setParams({ group: next });
  };
  const summary = useQuery<StructureData>(
    `query Structure($id: ID!) { model(id: $id) { id structure { hash tensorCount parameterCount groups { prefix tensorCount parameterCount } parameterCountByDtype { dtype tensorCount parameterCount } } } }`,
    { id: modelId },
  );
  const tensors = useQuery<TensorPage>(
    `query Tensors($id: ID!, $group: String, $name: String, $after: String, $first: Int) { model(id: $id) { id structure { tensors(group: $group, nameContains: $name, after: $after, first: $first) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { position name shape dtype layerIndex group mergeable elements } } } } } }`,
    { id: modelId, group: group || null, name: q || null, after, first: PAGE },
    { keepPrevious: true },
  );
  const page = tensors.data?.model?.structure?.tensors;
  const rows = page?.edges.map((e) => e.node) ?? [];
  const firstShown = cursors.length * PAGE + 1;

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
                    <button type="button" className="link-button" aria-pressed={g.prefix === group} onClick={() => setGroup(g.prefix === group ? null : g.prefix)}>
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
            <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="e.g. conv.weight" aria-describedby="tensor-search-hint" />
            <span className="hint" id="tensor-search-hint">part of the name, searched over all tensors</span>
          </label>
          <label>
            Group
            <select value={group} onChange={(e) => setGroup(e.target.value || null)}>
              <option value="">all groups</option>
              {structure.groups.map((g) => <option key={g.prefix} value={g.prefix}>{g.prefix}</option>)}
            </select>
          </label>
        </div>
        {tensors.error ? <ErrorMessage error={tensors.error} retry={tensors.refetch} /> : null}
        {!page ? <Loading what="tensors" /> : (
          <>
            <p className="muted" aria-live="polite">
              {page.totalCount === 0 ? "" : `${count(firstShown)}–${count(firstShown + rows.length - 1)} of `}
              {count(page.totalCount)} tensors{q ? ` whose name contains “${q}”` : ""}{group ? ` in ${group}` : ""}
            </p>
            {rows.length === 0 ? <Empty>{q ? `No tensor${group ? ` in ${group}` : ""} has a name containing “${q}”.` : "No tensors here."}</Empty> : (
              <div className="table-scroll">
                <table className="data compact" data-testid="tensor-table" aria-busy={tensors.loading}>
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
                    {rows.map((t) => (
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
            {cursors.length || page.pageInfo.hasNextPage ? (
              <nav className="pager" aria-label="Tensor pages">
                <button type="button" disabled={!cursors.length} onClick={() => { const prev = [...cursors]; const back = prev.pop() ?? null; setCursors(prev); setAfter(back); }}>
                  ← Previous {PAGE}
                </button>
                <button type="button" disabled={!page.pageInfo.hasNextPage} onClick={() => { setCursors([...cursors, after]); setAfter(page.pageInfo.endCursor); }}>
                  Next {PAGE} →
                </button>
              </nav>
            ) : null}
          </>
        )}
      </div>
    </div>
  );
}
