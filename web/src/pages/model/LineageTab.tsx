import { useQuery } from "../../api/useQuery";
import type { LineageEdgeInput, LineageNodeInput } from "../../components/layoutLineage";
import { LineageGraph } from "../../components/LineageGraph";
import { Empty, ErrorMessage, Loading } from "../../components/States";
import { useQueryParams } from "../../router";

const RELATIONS = ["MERGED_FROM", "FINETUNED_FROM", "CHECKPOINT_OF", "QUANTIZED_FROM", "EXPORTED_FROM"];
const QUERY = `query Lineage($id: ID!, $direction: LineageDirection, $depth: Int, $relations: [LineageRelation!]) {
  lineage(modelId: $id, direction: $direction, depth: $depth, relations: $relations) {
    nodes { id name version origin }
    edges { id parentId childId relation weight }
  }
}`;

export function LineageTab({ modelId }: { modelId: string }) {
  const [params, setParams] = useQueryParams();
  const direction = params.get("direction") ?? "BOTH";
  const depth = Math.max(1, Math.min(50, Number(params.get("depth") ?? 3) || 3));
  const chosen = params.get("relations");
  const relations = chosen === null ? RELATIONS : chosen.split(",").filter((r) => RELATIONS.includes(r));
  const result = useQuery<{ lineage: { nodes: LineageNodeInput[]; edges: LineageEdgeInput[] } }>(QUERY, { id: modelId, direction, depth, relations }, { skip: relations.length === 0 });
  const toggle = (relation: string) => {
    const next = relations.includes(relation) ? relations.filter((r) => r !== relation) : [...relations, relation];
    setParams({ relations: next.length === RELATIONS.length ? null : next.length ? next : "none" });
  };
  return (
    <div className="card">
      <h2>Lineage</h2>
      <form className="filters inline" aria-label="Lineage options" onSubmit={(e) => e.preventDefault()}>
        <label>
          Direction
          <select value={direction} onChange={(e) => setParams({ direction: e.target.value === "BOTH" ? null : e.target.value })}>
            <option value="BOTH">ancestors and descendants</option>
            <option value="ANCESTORS">ancestors</option>
            <option value="DESCENDANTS">descendants</option>
          </select>
        </label>
        <label>
          Depth (hops)
          <input type="number" min={1} max={50} value={depth} onChange={(e) => setParams({ depth: e.target.value === "3" ? null : e.target.value })} />
        </label>
        <fieldset>
          <legend>Relations</legend>
          {RELATIONS.map((r) => (
            <label key={r} className="check">
              <input type="checkbox" checked={relations.includes(r)} onChange={() => toggle(r)} /> {r.toLowerCase().replace(/_/g, " ")}
            </label>
          ))}
        </fieldset>
      </form>
      <p className="muted">Parents on the left, children on the right; merge edges show the parent's mean effective weight. Select a model to open it.</p>
      {relations.length === 0 ? <Empty>Choose at least one relation.</Empty> : null}
      {result.error ? <ErrorMessage error={result.error} retry={result.refetch} /> : null}
      {relations.length && !result.data && !result.error ? <Loading what="the lineage" /> : null}
      {result.data && result.data.lineage.edges.length === 0 ? <Empty>No {direction === "BOTH" ? "ancestors or descendants" : direction.toLowerCase()} within {depth} hops over these relations.</Empty> : null}
      {result.data && result.data.lineage.nodes.length > 0 && result.data.lineage.edges.length > 0 ? <LineageGraph nodes={result.data.lineage.nodes} edges={result.data.lineage.edges} currentId={modelId} /> : null}
    </div>
  );
}
