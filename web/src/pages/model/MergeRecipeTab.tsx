import { useQuery } from "../../api/useQuery";
import { ErrorMessage, Loading } from "../../components/States";
import { WeightCurves } from "../../components/WeightCurves";
import { date, weight } from "../../format";
import { Link } from "../../router";

interface Recipe {
  id: string;
  method: string;
  recipeHash: string;
  recipeYaml: string | null;
  createdAt: string;
  params: Record<string, unknown>;
  schedule: { kind: string; cutoff: number | null; knots: number[] | null };
  inputs: Array<{ role: string; position: number; meanWeight: number | null; relativeWeight: number | null; model: { id: string; name: string; version: string } }>;
  layers: Array<{ index: number; weights: number[]; mergedTensors: number }>;
  job: { id: string; status: string } | null;
}

const QUERY = `query Recipe($id: ID!) { model(id: $id) { id merge {
  id method recipeHash recipeYaml createdAt params schedule { kind cutoff knots }
  inputs { role position meanWeight relativeWeight model { id name version } }
  layers { index weights mergedTensors }
  job { id status }
} } }`;

export function scheduleText(s: { kind: string; cutoff: number | null; knots: number[] | null }): string {
  if (s.kind === "STEP") return `step at t ≥ ${s.cutoff ?? 0.5}`;
  if (s.kind === "CUSTOM") return `custom knots ${(s.knots ?? []).join(", ")}`;
  return s.kind.toLowerCase();
}

export function MergeRecipeTab({ modelId }: { modelId: string }) {
  const result = useQuery<{ model: { merge: Recipe | null } | null }>(QUERY, { id: modelId });
  if (result.error) return <ErrorMessage error={result.error} retry={result.refetch} />;
  const merge = result.data?.model?.merge;
  if (!result.data) return <Loading what="the recipe" />;
  if (!merge) return <p>This model was not made by a merge.</p>;
  const curves = merge.inputs
    .filter((i) => i.role !== "BASE")
    .map((input, k) => ({ label: `${input.model.name} (${input.role.toLowerCase()})`, values: merge.layers.map((l) => l.weights[k] ?? 0) }));
  const params = Object.entries(merge.params).filter(([, v]) => v !== null && typeof v !== "object");
  return (
    <div className="columns wide-right">
      <div className="card">
        <h2>Recipe</h2>
        <dl className="fields">
          <dt>Method</dt>
          <dd>{merge.method}</dd>
          <dt>Schedule</dt>
          <dd>{scheduleText(merge.schedule)}</dd>
          {params.map(([k, v]) => (
            <div key={k} className="contents">
              <dt>{k}</dt>
              <dd>{String(v)}</dd>
            </div>
          ))}
          <dt>Recipe hash</dt>
          <dd><code className="hash">{merge.recipeHash.slice(0, 16)}…</code></dd>
          <dt>Made</dt>
          <dd>{date(merge.createdAt)}{merge.job ? <> by job <Link to={`/jobs?job=${merge.job.id}`}>{merge.job.id.slice(0, 8)}</Link></> : null}</dd>
        </dl>
        <table className="data">
          <thead>
            <tr>
              <th scope="col">Input</th>
              <th scope="col">Role</th>
              <th scope="col" className="num">Mean weight</th>
              <th scope="col" className="num">Relative</th>
            </tr>
          </thead>
          <tbody>
            {merge.inputs.map((input) => (
              <tr key={input.position}>
                <td><Link to={`/models/${input.model.id}`}>{input.model.name}@{input.model.version}</Link></td>
                <td>{input.role.toLowerCase()}</td>
                <td className="num">{weight(input.meanWeight)}</td>
                <td className="num">{weight(input.relativeWeight)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div className="card">
        <h2>Effective weight per layer</h2>
        <WeightCurves title={`w(l) over ${merge.layers.length} layers`} curves={curves} />
        {merge.recipeYaml ? (
          <details>
            <summary>As a mergekit config (runs again with startMergeFromRecipe)</summary>
            <pre>{merge.recipeYaml}</pre>
          </details>
        ) : null}
      </div>
    </div>
  );
}
