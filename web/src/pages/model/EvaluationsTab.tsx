import { useQuery } from "../../api/useQuery";
import { BarChart } from "../../components/BarChart";
import { Empty, ErrorMessage, Loading } from "../../components/States";
import { date, percent } from "../../format";
import { href, Link, useQueryParams } from "../../router";

interface PerClass {
  classId: number;
  name: string;
  isThing: boolean;
  iou: number | null;
  acc: number | null;
  pq: number | null;
  sq: number | null;
  rq: number | null;
}
interface EvaluationRow {
  id: string;
  score: number | null;
  canonical: boolean;
  external: boolean;
  source: string | null;
  images: number;
  durationMs: number;
  createdAt: string;
  dataset: { id: string; name: string; split: string; task: { kind: string; primaryMetric: string } };
  perClass: PerClass[];
}

const QUERY = `query Evaluations($id: ID!) { model(id: $id) { id evaluations {
  id score canonical external source images durationMs createdAt
  dataset { id name split task { kind primaryMetric } }
  perClass { classId name isThing iou acc pq sq rq }
} } }`;

export function EvaluationsTab({ modelId }: { modelId: string }) {
  const [params, setParams] = useQueryParams();
  const result = useQuery<{ model: { evaluations: EvaluationRow[] } | null }>(QUERY, { id: modelId });
  if (result.error) return <ErrorMessage error={result.error} retry={result.refetch} />;
  const evaluations = result.data?.model?.evaluations;
  if (!evaluations) return <Loading what="evaluations" />;
  if (!evaluations.length) return <Empty>Not evaluated yet. Start one with <code>npx layermerge evaluate</code> or the startEvaluation mutation.</Empty>;
  const selected = evaluations.find((e) => e.id === params.get("evaluation")) ?? evaluations[0];
  const panoptic = selected.dataset.task.primaryMetric === "PQ";
  return (
    <div className="columns wide-right">
      <div className="card">
        <h2>Evaluations</h2>
        <div className="table-scroll">
          <table className="data">
            <thead>
              <tr>
                <th scope="col">Dataset</th>
                <th scope="col" className="num">Score</th>
                <th scope="col">Kind</th>
                <th scope="col" className="num">Images</th>
                <th scope="col">When</th>
              </tr>
            </thead>
            <tbody>
              {evaluations.map((e) => (
                <tr key={e.id} className={e.id === selected.id ? "selected" : undefined}>
                  <td>
                    <Link to={href(`/models/${modelId}`, { tab: "evaluations", evaluation: e.id })} aria-current={e.id === selected.id ? "true" : undefined} onClick={(ev) => { ev.preventDefault(); setParams({ evaluation: e.id }); }}>
                      {e.dataset.name} ({e.dataset.split})
                    </Link>
                  </td>
                  <td className="num">{percent(e.score)} <span className="muted">{e.dataset.task.primaryMetric === "PQ" ? "PQ" : "mIoU"}</span></td>
                  <td>{e.external ? `external${e.source ? `: ${e.source}` : ""}` : e.canonical ? "canonical" : "partial / custom"}</td>
                  <td className="num">{e.images}</td>
                  <td className="nowrap">{date(e.createdAt).slice(0, 16)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <p className="muted">
          <Link to={href("/leaderboard", { dataset: selected.dataset.id })}>Leaderboard on {selected.dataset.name}</Link>
        </p>
      </div>
      <div className="card">
        <h2>
          Per class on {selected.dataset.name}: {percent(selected.score)} {panoptic ? "PQ" : "mIoU"}
        </h2>
        {selected.perClass.length ? (
          panoptic ? (
            <BarChart title="PQ, SQ and RQ per class" series={["PQ", "SQ", "RQ"]} bars={selected.perClass.map((c) => ({ label: `${c.name}${c.isThing ? " (thing)" : ""}`, values: [c.pq, c.sq, c.rq] }))} />
          ) : (
            <BarChart title="IoU per class" series={["IoU"]} bars={selected.perClass.map((c) => ({ label: c.name, values: [c.iou] }))} />
          )
        ) : (
          <Empty>No per-class numbers were recorded for this evaluation.</Empty>
        )}
      </div>
    </div>
  );
}
