import { badInput } from "../errors";
import { FileByteSource } from "../formats/byteSource";
import { openFileSink } from "../formats/fileSink";
import { readGraphParameters } from "../formats/onnx/graphParameters";
import { planOnnxRewrite } from "../formats/onnx/planOnnxRewrite";
import { readTensorBytes } from "../formats/onnx/readTensorBytes";
import { writeOnnxRewrite } from "../formats/onnx/writeOnnxRewrite";
import { parseModelFile } from "../formats/parseModelFile";
import { decodeToFloat64 } from "../merge/decodeFloats";
import { encodeFromFloats } from "../merge/encodeFloats";
import type { LayerOrderSource, TensorInfo } from "../structure/types";
import type { BatchNormFold } from "./findBatchNormFolds";
import { foldBatchNorm } from "./foldBatchNorm";
import { planGraphWeights, type GraphWeightPlan, type WeightSource } from "./planGraphWeights";

export interface WriteGraphWithWeightsOptions {
  /**
   * The checkpoint's order as registered (its structure's tensors, a given layerOrder applied),
   * which positional mapping follows; default: the file's parse order.
   */
  order?: { names: readonly string[]; source: LayerOrderSource };
}

export interface GraphWithWeights {
  plan: GraphWeightPlan;
  /** What a person reading the evaluation should know: how the tensors were mapped. */
  notes: string[];
}

/** Unused checkpoint tensors named in a note; the rest are counted. */
const NAMED_UNUSED = 5;

/**
 * Writes `out`: the ONNX graph `graphFile` with every floating parameter replaced by the
 * checkpoint's values (planGraphWeights: folded, mapped by name or position, transposed where
 * MatMul reads a Linear weight), rounded once to the graph's dtype. Everything else — nodes,
 * integer constants, metadata — is the graph's bytes. Reads headers to plan and one tensor (or
 * one Conv + BatchNorm pair) at a time to write.
 *
 * @throws DomainError BAD_USER_INPUT naming a graph parameter the checkpoint cannot fill
 */
export async function writeGraphWithWeights(graphFile: string, checkpointFile: string, out: string, options: WriteGraphWithWeightsOptions = {}): Promise<GraphWithWeights> {
  const graphParsed = parseModelFile(graphFile);
  if (graphParsed.format !== "onnx") throw badInput(`the graph model is ${graphParsed.format}; a graph model must be ONNX`, "graphModelId");
  const parsed = parseModelFile(checkpointFile);
  const checkpoint = options.order ? { ...parsed, tensors: inOrder(parsed.tensors, options.order.names), layerOrderSource: options.order.source } : parsed;
  const graphSource = new FileByteSource(graphFile);
  const checkpointSource = new FileByteSource(checkpointFile);
  try {
    const plan = planGraphWeights(readGraphParameters(graphSource, graphParsed), checkpoint);
    const assigned = new Map(plan.assignments.map((a) => [a.parameter.name, a.source]));
    const tensors = new Map(checkpoint.tensors.map((t) => [t.name, t]));
    const read = (name: string): Float64Array => {
      const t = tensors.get(name)!;
      return decodeToFloat64(readTensorBytes(checkpointSource, t), t.dtype);
    };
    // A pair's weight and bias are asked for one after the other (the graph's order); each fold
    // is computed once and dropped when both halves have been written.
    const folded = new Map<BatchNormFold, { weight: Float64Array; bias: Float64Array; left: number }>();
    const valuesOf = (source: WeightSource, parameter: TensorInfo): Float64Array => {
      if (source.kind === "TENSOR") return source.transpose ? transpose(read(source.name), parameter.shape[1], parameter.shape[0]) : read(source.name);
      const f = source.fold;
      let entry = folded.get(f);
      if (!entry) {
        const optional = (n: string | null) => (n === null ? null : read(n));
        const result = foldBatchNorm(read(f.conv.weight), optional(f.conv.bias), { gamma: optional(f.bn.weight), beta: optional(f.bn.bias), mean: read(f.bn.mean), variance: read(f.bn.variance), eps: f.eps });
        folded.set(f, (entry = { ...result, left: 2 }));
      }
      if (--entry.left === 0) folded.delete(f);
      return source.kind === "FOLDED_WEIGHT" ? entry.weight : entry.bias;
    };
    const rewrite = planOnnxRewrite(graphSource, graphParsed, new Set(assigned.keys()), {});
    const sink = await openFileSink(out);
    try {
      await writeOnnxRewrite(rewrite, async (parameter) => {
        const values = valuesOf(assigned.get(parameter.name)!, parameter);
        return encodeFromFloats(parameter.dtype === "F64" ? values : Float32Array.from(values), parameter.dtype);
      }, sink);
      await sink.close();
    } catch (error) {
      await sink.abort();
      throw error;
    }
    return { plan, notes: notesOf(plan, checkpoint.layerOrderSource) };
  } finally {
    graphSource.close();
    checkpointSource.close();
  }
}

/** [rows, cols] → [cols, rows], C order. */
function transpose(values: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c];
  return out;
}

/** Tensors in the order of `names`; any not named keep their parse order, after the others. */
function inOrder(tensors: readonly TensorInfo[], names: readonly string[]): TensorInfo[] {
  const rank = new Map(names.map((n, i) => [n, i]));
  return tensors.map((t, i) => ({ t, key: rank.get(t.name) ?? names.length + i })).sort((a, b) => a.key - b.key).map((e) => e.t);
}

function notesOf(plan: GraphWeightPlan, orderSource: LayerOrderSource): string[] {
  const byName = plan.assignments.filter((a) => a.matchedBy === "NAME").length;
  const transposed = plan.assignments.filter((a) => a.source.kind === "TENSOR" && a.source.transpose).length;
  const notes = [`checkpoint mapped onto the graph's ${plan.assignments.length} parameters: ${byName} by name, ${plan.assignments.length - byName} by position${transposed ? ` (${transposed} Linear weights transposed for MatMul)` : ""}`];
  if (orderSource === "NAME_SORTED" && byName < plan.assignments.length) {
    notes.push("the checkpoint's tensors are stored sorted by name, so the order matched by position is a numeric-aware name order; if that is not the forward order, register the checkpoint with its layerOrder");
  }
  if (plan.folds.length) notes.push(`${plan.folds.length} Conv + BatchNorm pairs folded (eval mode, eps ${plan.folds[0].eps})`);
  if (plan.unused.length) {
    const named = plan.unused.slice(0, NAMED_UNUSED).join(", ");
    notes.push(`${plan.unused.length} checkpoint tensors have no place in the graph: ${named}${plan.unused.length > NAMED_UNUSED ? ", …" : ""}`);
  }
  return notes;
}
