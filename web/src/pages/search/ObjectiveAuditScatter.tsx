import { useEffect, useState } from "react";
import { gql, RequestError } from "../../api/client";
import { ScatterPlot } from "../../components/ScatterPlot";
import { Empty, ErrorMessage, Loading } from "../../components/States";
import { percent } from "../../format";
import { type CandidateView, describeRecipe, type Names, objectiveText } from "./searchModel";

const PAGE = 500;

/** Every scored candidate of a search (paged through 500 at a time; a search plans at most 10,000). */
async function allCandidates(searchId: string, signal: AbortSignal): Promise<CandidateView[]> {
  const out: CandidateView[] = [];
  let after: string | null = null;
  for (;;) {
    const data: { mergeSearch: { candidates: { pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: Array<{ node: CandidateView }> } } | null } = await gql(
      `query ScatterPoints($id: ID!, $first: Int, $after: String) { mergeSearch(id: $id) { candidates(first: $first, after: $after) { pageInfo { hasNextPage endCursor } edges { node { key rank position objective audit seconds isSingle recipe } } } } }`,
      { id: searchId, first: PAGE, after },
      signal,
    );
    const page = data.mergeSearch?.candidates;
    if (!page) return out;
    out.push(...page.edges.map((e) => e.node));
    if (!page.pageInfo.hasNextPage || !page.pageInfo.endCursor) return out;
    after = page.pageInfo.endCursor;
  }
}

/**
 * Objective against audit score, one point per scored candidate: how far the label-free
 * criterion agrees with the held-out labels (the audit never chooses). ρ is the server's.
 */
export function ObjectiveAuditScatter({ searchId, names, pickKey, spearman, refresh }: { searchId: string; names: Names; pickKey: string | null; spearman: number | null; refresh: number }) {
  const [candidates, setCandidates] = useState<CandidateView[]>();
  const [error, setError] = useState<RequestError>();
  useEffect(() => {
    const controller = new AbortController();
    allCandidates(searchId, controller.signal)
      .then((c) => {
        setCandidates(c);
        setError(undefined);
      })
      .catch((e: unknown) => {
        if ((e as Error).name !== "AbortError") setError(e instanceof RequestError ? e : new RequestError([{ message: String(e) }], 0));
      });
    return () => controller.abort();
  }, [searchId, refresh]);
  if (error) return <ErrorMessage error={error} />;
  if (!candidates) return <Loading what="the scatter plot" />;
  const points = candidates
    .filter((c) => c.objective !== null && c.audit !== null)
    .map((c) => ({ key: c.key, x: c.objective as number, y: c.audit as number, label: `#${c.rank} ${describeRecipe(c.recipe, names)}`, highlight: c.key === pickKey, hollow: c.isSingle }));
  const rho = spearman === null ? "Spearman ρ: — (needs 3 candidates with an audit score)" : `Spearman ρ = ${spearman.toFixed(3)}`;
  if (!points.length) return <Empty>No candidate has both scores yet.</Empty>;
  return (
    <div data-testid="objective-audit-scatter">
      <ScatterPlot
        points={points}
        title={`Objective vs audit score, ${points.length} candidates (hollow: a single model; large: the pick). ${rho}`}
        xLabel="objective (chooses)"
        yLabel="audit score"
        xFormat={objectiveText}
        yFormat={(v) => percent(v, 1)}
      />
    </div>
  );
}
