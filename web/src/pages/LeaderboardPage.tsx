import { useState } from "react";
import { datasetLabel, useCatalog } from "../api/useCatalog";
import { useMostScoredDataset } from "../api/useMostScoredDataset";
import { useQuery } from "../api/useQuery";
import { Empty, ErrorMessage, Loading } from "../components/States";
import { date, percent, points } from "../format";
import { Link, useQueryParams } from "../router";

interface Entry {
  rank: number;
  score: number;
  model: { id: string; name: string; version: string; origin: string; udaStrategy: string | null };
  evaluation: { id: string; createdAt: string; external: boolean; source: string | null };
  merge: { id: string; method: string; schedule: { kind: string }; gain: { vsBestParent: number | null; bestParentScore: number | null; perParent: Array<{ model: { id: string; name: string }; score: number | null }> } } | null;
}

const QUERY = `query Leaderboard($dataset: ID!, $after: String) {
  leaderboard(datasetId: $dataset, first: 50, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node {
      rank score
      model { id name version origin udaStrategy }
      evaluation { id createdAt external source }
      merge { id method schedule { kind } gain(datasetId: $dataset) { vsBestParent bestParentScore perParent { model { id name } score } } }
    } }
  }
}`;

/** A merge's gain over its best parent, signed and coloured; a loss is shown as plainly as a gain. */
function Gain({ merge }: { merge: Entry["merge"] }) {
  if (!merge) return <span className="muted">—</span>;
  const g = merge.gain.vsBestParent;
  if (g === null) return <span className="muted" title="a parent has no score on this dataset">parents not scored</span>;
  const best = merge.gain.perParent.reduce<{ name: string; score: number } | null>((b, p) => (p.score !== null && (!b || p.score > b.score) ? { name: p.model.name, score: p.score } : b), null);
  return (
    <span className={g > 0 ? "gain positive" : g < 0 ? "gain negative" : "gain"} data-testid="gain">
      {points(g)}
      <span className="muted"> vs {best ? `${best.name} (${percent(best.score)})` : percent(merge.gain.bestParentScore)}</span>
    </span>
  );
}

export function LeaderboardPage() {
  const [params, setParams] = useQueryParams();
  const catalog = useCatalog();
  const [cursors, setCursors] = useState<string[]>([]);
  const datasets = catalog.data?.datasets.edges.map((e) => e.node) ?? [];
  // Without a chosen dataset: the one with the most canonical scores (the first when none has any).
  const mostScored = useMostScoredDataset(params.get("dataset") ? [] : catalog.error ? [] : catalog.data ? datasets.map((d) => d.id) : undefined);
  const datasetId = params.get("dataset") ?? (mostScored.resolved ? mostScored.id || datasets[0]?.id || "" : "");
  const after = params.get("after");
  const result = useQuery<{ leaderboard: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: Array<{ node: Entry }> } }>(QUERY, { dataset: datasetId, after }, { skip: !datasetId });
  const dataset = datasets.find((d) => d.id === datasetId);
  const metric = dataset?.task.primaryMetric === "PQ" ? "PQ" : "mIoU";
  const board = result.data?.leaderboard;

  return (
    <section>
      <div className="page-head">
        <h1>Leaderboard</h1>
        <form className="filters inline" onSubmit={(e) => e.preventDefault()}>
          <label>
            Dataset
            <select value={datasetId} onChange={(e) => { setCursors([]); setParams({ dataset: e.target.value, after: null }); }}>
              {datasets.map((d) => <option key={d.id} value={d.id}>{datasetLabel(d)}</option>)}
            </select>
          </label>
        </form>
      </div>
      {catalog.error ? <ErrorMessage error={catalog.error} retry={catalog.refetch} /> : null}
      {catalog.data && !datasets.length ? <Empty>No datasets yet: create one (createDataset) and evaluate models on it.</Empty> : null}
      {result.error ? <ErrorMessage error={result.error} retry={result.refetch} /> : null}
      {datasetId && !board && !result.error ? <Loading what="the leaderboard" /> : null}
      {board && !board.edges.length ? <Empty>No model has a score on {dataset ? datasetLabel(dataset) : "this dataset"} yet. Evaluate one from the CLI (<code>npx layermerge evaluate</code>) or with startEvaluation.</Empty> : null}
      {board && board.edges.length ? (
        <>
          <p className="muted">Canonical scores (full split, default settings) on {dataset ? datasetLabel(dataset) : "the dataset"}, {metric}. Merged models show their gain over their best parent.</p>
          <div className="table-scroll">
            <table className="data" data-testid="leaderboard">
              <thead>
                <tr>
                  <th scope="col" className="num">Rank</th>
                  <th scope="col">Model</th>
                  <th scope="col" className="num">{metric}</th>
                  <th scope="col">Gain over best parent</th>
                  <th scope="col">Evaluated</th>
                </tr>
              </thead>
              <tbody>
                {board.edges.map(({ node }) => (
                  <tr key={node.model.id} className={node.merge ? "merged" : undefined}>
                    <td className="num">{node.rank}</td>
                    <td>
                      <Link to={`/models/${node.model.id}?tab=evaluations&evaluation=${node.evaluation.id}`}>{node.model.name}</Link>
                      <span className="muted">@{node.model.version}</span>{" "}
                      {node.merge ? <span className="badge origin-merged" title={`made by ${node.merge.method} with the ${node.merge.schedule.kind} schedule`}>merged · {node.merge.method.toLowerCase()} · {node.merge.schedule.kind.toLowerCase()}</span> : null}
                      {node.model.udaStrategy ? <span className="muted"> {node.model.udaStrategy}</span> : null}
                    </td>
                    <td className="num"><strong>{percent(node.score)}</strong></td>
                    <td><Gain merge={node.merge} /></td>
                    <td className="nowrap">{node.evaluation.external ? `external${node.evaluation.source ? ` (${node.evaluation.source})` : ""}` : date(node.evaluation.createdAt).slice(0, 16)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav className="pager" aria-label="Pages">
            <button type="button" disabled={!after} onClick={() => { const prev = [...cursors]; const back = prev.pop(); setCursors(prev); setParams({ after: back || null }); }}>← Previous</button>
            <span>{board.totalCount} ranked</span>
            <button type="button" disabled={!board.pageInfo.hasNextPage} onClick={() => { setCursors([...cursors, after ?? ""]); setParams({ after: board.pageInfo.endCursor }); }}>Next →</button>
          </nav>
        </>
      ) : null}
    </section>
  );
}
