import { badInput } from "../errors";
import type { GraphParameter, GraphParameters } from "../formats/onnx/graphParameters";
import { moduleOf } from "../formats/safetensors/safetensorsLayerOrder";
import type { DType, ParsedModel, TensorInfo } from "../structure/types";
import { findBatchNormFolds, type BatchNormFold } from "./findBatchNormFolds";

/** Where a graph parameter's values come from in the checkpoint. */
export type WeightSource =
  /** A checkpoint tensor as it is; `transpose`: a torch Linear weight [out, in] read by MatMul as [in, out]. */
  | { kind: "TENSOR"; name: string; transpose: boolean }
  /** A Conv + BatchNorm pair folded with the eval-mode formula (foldBatchNorm). */
  | { kind: "FOLDED_WEIGHT" | "FOLDED_BIAS"; fold: BatchNormFold };

export interface GraphWeightAssignment {
  parameter: TensorInfo;
  source: WeightSource;
  matchedBy: "NAME" | "POSITION";
}

export interface GraphWeightPlan {
  /** One per graph parameter, in the graph's canonical order. */
  assignments: GraphWeightAssignment[];
  /** Conv + BatchNorm pairs folded before mapping. */
  folds: BatchNormFold[];
  /** Floating checkpoint tensors the graph has no place for (an auxiliary head, say). */
  unused: string[];
}

/** A checkpoint value offered to the graph: a tensor, or one half of a folded pair. */
interface Candidate {
  label: string;
  /** The names a graph parameter may have to take it by name. */
  names: string[];
  shape: number[];
  dtype: DType;
  source: WeightSource;
  used: boolean;
}

/**
 * Maps a checkpoint's tensors onto a graph's parameters (docs/CONVENTIONS.md, Checkpoints
 * evaluated through a graph):
 *
 * 1. When the graph keeps fewer BatchNormalization nodes than the checkpoint has batch norms, the
 *    checkpoint's Conv + BatchNorm pairs whose statistics the graph does not name are folded, as
 *    exporters do in eval mode; each pair then offers a weight and a bias in the conv's place.
 * 2. By name: a graph parameter takes the checkpoint value of its name (shapes must agree).
 * 3. By position: the remaining parameters, in the graph's canonical order, take the next unused
 *    checkpoint values of the same shape and dtype in the checkpoint's order (a PyTorch state
 *    dict's order is the order its modules register their weights, as the export walks them).
 *    Checkpoint values may be skipped; graph parameters may not: one without a counterpart is
 *    refused, naming it.
 *
 * @param checkpoint the parsed checkpoint, its tensors in the checkpoint's order
 */
export function planGraphWeights(graph: GraphParameters, checkpoint: ParsedModel, options: { eps?: number } = {}): GraphWeightPlan {
  const graphNames = new Set(graph.parameters.map((p) => p.tensor.name));
  const folds = findBatchNormFolds(checkpoint.tensors, graph.batchNormNodes, graphNames, options.eps);
  const candidates = offer(checkpoint.tensors, folds);

  const assignments = new Array<GraphWeightAssignment | undefined>(graph.parameters.length);
  const byName = new Map<string, Candidate>();
  for (const c of candidates) for (const n of c.names) byName.set(n, c);
  graph.parameters.forEach(({ tensor }, i) => {
    const c = byName.get(tensor.name);
    if (!c || c.used) return;
    if (!sameShape(c.shape, tensor.shape)) {
      throw badInput(`graph initializer "${tensor.name}" is ${describe(tensor)} but the checkpoint's ${JSON.stringify(c.label)} is ${describe(c)}: the graph is not of this checkpoint's architecture`, "graphModelId");
    }
    c.used = true;
    assignments[i] = { parameter: tensor, source: c.source, matchedBy: "NAME" };
  });

  let next = 0;
  let previous: Candidate | null = null;
  graph.parameters.forEach((p, i) => {
    if (assignments[i]) return;
    const transpose = readsTransposed(p);
    let k = next;
    while (k < candidates.length && (candidates[k].used || !fits(candidates[k], p.tensor, transpose))) k++;
    if (k === candidates.length) throw unmapped(p, i, previous, folds.length);
    const c = candidates[k];
    c.used = true;
    previous = c;
    next = k + 1;
    const source: WeightSource = c.source.kind === "TENSOR" && transpose ? { ...c.source, transpose: true } : c.source;
    assignments[i] = { parameter: p.tensor, source, matchedBy: "POSITION" };
  });

  return { assignments: assignments as GraphWeightAssignment[], folds, unused: candidates.filter((c) => !c.used).map((c) => c.label) };
}

/** The checkpoint's floating tensors in order, each folded pair replaced by its weight and bias at the conv's place. */
function offer(tensors: readonly TensorInfo[], folds: readonly BatchNormFold[]): Candidate[] {
  const foldAt = new Map(folds.map((f) => [f.conv.weight, f]));
  const consumed = new Set(folds.flatMap((f) => [f.conv.bias, f.bn.weight, f.bn.bias, f.bn.mean, f.bn.variance].filter((n): n is string => n !== null)));
  const out: Candidate[] = [];
  for (const t of tensors) {
    if (!t.mergeable || consumed.has(t.name)) continue;
    const fold = foldAt.get(t.name);
    if (!fold) {
      out.push({ label: t.name, names: [t.name], shape: t.shape, dtype: t.dtype, source: { kind: "TENSOR", name: t.name, transpose: false }, used: false });
      continue;
    }
    const bn = moduleOf(fold.bn.mean);
    out.push({ label: `${t.name} folded with ${bn}`, names: [t.name], shape: t.shape, dtype: t.dtype, source: { kind: "FOLDED_WEIGHT", fold }, used: false });
    out.push({ label: `${fold.conv.bias ?? `${moduleOf(t.name)}.bias`} folded with ${bn}`, names: fold.conv.bias ? [fold.conv.bias] : [], shape: [t.shape[0]], dtype: t.dtype, source: { kind: "FOLDED_BIAS", fold }, used: false });
  }
  return out;
}

/**
 * MatMul's second input is [in, out]; a torch Linear weight is [out, in], and exporters fold the
 * transpose into a new, generated-name initializer. Taken by position, such a weight is transposed.
 */
function readsTransposed(p: GraphParameter): boolean {
  return p.consumer.opType === "MatMul" && p.consumer.slot === 1 && p.tensor.shape.length === 2;
}

function fits(c: Candidate, t: TensorInfo, transpose: boolean): boolean {
  if (c.dtype !== t.dtype) return false;
  if (!transpose) return sameShape(c.shape, t.shape);
  return c.source.kind === "TENSOR" && c.shape.length === 2 && c.shape[0] === t.shape[1] && c.shape[1] === t.shape[0];
}

function unmapped(p: GraphParameter, index: number, previous: Candidate | null, folded: number) {
  const t = p.tensor;
  const after = previous ? `after ${JSON.stringify(previous.label)} ` : "";
  const how = folded ? ` (${folded} Conv + BatchNorm pairs folded first)` : "";
  return badInput(
    `graph initializer "${t.name}" (${describe(t)}, parameter ${index + 1} of the graph${p.consumer.opType ? `, read by ${p.consumer.opType}` : ""}) cannot be mapped: the checkpoint has no tensor of that name, and none of that shape and dtype ${after}in its order${how}`,
    "graphModelId",
  );
}

function describe(t: { dtype: DType; shape: number[] }): string {
  return `${t.dtype} [${t.shape.join(", ")}]`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
