import { useEffect, useState } from "react";
import { useQuery } from "../../api/useQuery";
import { Empty, ErrorMessage, Loading } from "../../components/States";
import { percent } from "../../format";
import { useQueryParams } from "../../router";
import { CANDIDATE_FIELDS, type CandidateView, describeRecipe, type Names, objectiveText } from "./searchModel";

const PAGE_SIZES = [10, 25, 100];

interface Page {
  mergeSearch: { candidates: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: Array<{ node: CandidateView }> } } | null;
}

/**
 * The scored candidates ranked by the objective (or by the audit score), a page at a time; the
 * order, page size and cursor are in the URL. `refresh` changes while the search runs, so rows
 * appear as candidates are scored.
 */
export function CandidateTable({ searchId, names, pickKey, hasAudit, refresh }: { searchId: string; names: Names; pickKey: string | null; hasAudit: boolean; refresh: number }) {
  const [params, setParams] = useQueryParams();
  const [cursors, setCursors] = useState<string[]>([]);
  const order = params.get("order") === "AUDIT" && hasAudit ? "AUDIT" : "OBJECTIVE";
  const size = PAGE_SIZES.includes(Number(params.get("per"))) ? Number(params.get("per")) : 25;
  const after = params.get("after") || null;
  const result = useQuery<Page>(
    `query Candidates($id: ID!, $first: Int, $after: String, $order: MergeSearchCandidateOrder) { mergeSearch(id: $id) {
      candidates(first: $first, after: $after, orderBy: $order) { totalCount pageInfo { hasNextPage endCursor } edges { node { ${CANDIDATE_FIELDS} } } } } }`,
    { id: searchId, first: size, after, order },
    { keepPrevious: true },
  );
  const { refetch } = result;
  useEffect(() => {
    if (refresh) refetch();
  }, [refresh, refetch]);
  const connection = result.data?.mergeSearch?.candidates;
  const restart = (changes: Record<string, string | null>) => {
    setCursors([]);
    setParams({ ...changes, after: null });
  };
  const first = cursors.length * size + 1;
  return (
    <div className="card">
      <div className="page-head">
        <h2>Candidates</h2>
        <form className="filters inline" onSubmit={(e) => e.preventDefault()} aria-label="Order candidates">
          <label>
            Order by
            <select value={order} onChange={(e) => restart({ order: e.target.value === "OBJECTIVE" ? null : e.target.value })}>
              <option value="OBJECTIVE">objective (how the search chooses)</option>
              {hasAudit ? <option value="AUDIT">audit score (never used to choose)</option> : null}
            </select>
          </label>
          <label>
            Rows per page
            <select value={size} onChange={(e) => restart({ per: e.target.value === "25" ? null : e.target.value })}>
              {PAGE_SIZES.map((n) => <option key={n} value={n}>{n}</option>)}
            </select>
          </label>
        </form>
      </div>
      {result.error ? <ErrorMessage error={result.error} retry={result.refetch} /> : null}
      {!connection && !result.error ? <Loading what="candidates" /> : null}
      {connection && !connection.edges.length ? <Empty>No candidate has been scored yet.</Empty> : null}
      {connection && connection.edges.length ? (
        <>
          <div className="table-scroll">
            <table className="data" data-testid="search-candidates" aria-busy={result.loading}>
              <thead>
                <tr>
                  <th scope="col" className="num">Rank</th>
                  <th scope="col">Recipe</th>
                  <th scope="col" className="num">Objective</th>
                  {hasAudit ? <th scope="col" className="num">Audit</th> : null}
                  <th scope="col" className="num">Time</th>
                </tr>
              </thead>
              <tbody>
                {connection.edges.map(({ node: c }) => (
                  <tr key={c.key} data-key={c.key} className={c.key === pickKey ? "pick" : undefined}>
                    <td className="num">{c.rank}</td>
                    <td>{describeRecipe(c.recipe, names)}{c.key === pickKey ? <strong className="muted"> — the pick</strong> : null}</td>
                    <td className="num">{objectiveText(c.objective)}</td>
                    {hasAudit ? <td className="num">{percent(c.audit, 2)}</td> : null}
                    <td className="num">{c.seconds.toFixed(2)} s</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav className="pager" aria-label="Pages">
            <button type="button" disabled={!after} onClick={() => { const prev = [...cursors]; const back = prev.pop(); setCursors(prev); setParams({ after: back || null }); }}>
              Previous
            </button>
            <span>
              {after && !cursors.length ? `${connection.edges.length} from a shared link` : `${first}–${first + connection.edges.length - 1}`} of {connection.totalCount}
            </span>
            <button type="button" disabled={!connection.pageInfo.hasNextPage} onClick={() => { setCursors([...cursors, after ?? ""]); setParams({ after: connection.pageInfo.endCursor }); }}>
              Next
            </button>
          </nav>
        </>
      ) : null}
    </div>
  );
}
