import * as path from "node:path";
import { FileByteSource } from "../formats/byteSource";
import { readGraphParameters, type GraphParameters } from "../formats/onnx/graphParameters";
import { parseModelFile } from "../formats/parseModelFile";
import type { ParsedModel, TensorInfo } from "../structure/types";
import { DEFAULT_BATCH_NORM_EPS } from "./findBatchNormFolds";
import { foldBatchNorm } from "./foldBatchNorm";
import { planGraphWeights } from "./planGraphWeights";

const FIXTURES = path.join(__dirname, "fixtures");
const fixture = (name: string) => path.join(FIXTURES, name);

function graphOf(file: string): GraphParameters {
  const source = new FileByteSource(file);
  try {
    return readGraphParameters(source, parseModelFile(file));
  } finally {
    source.close();
  }
}

function tensor(name: string, shape: number[], dtype: TensorInfo["dtype"] = "F32"): TensorInfo {
  return { name, shape, dtype, elements: shape.reduce((a, b) => a * b, 1), mergeable: dtype.startsWith("F") || dtype === "BF16", layerIndex: 0, group: "", location: { kind: "raw", offset: 0, length: 0 } };
}

function checkpointOf(tensors: TensorInfo[]): ParsedModel {
  return { format: "safetensors", tensors, layerCount: 1, layerOrderSource: "STORAGE_ORDER", generatedNameCount: 0, metadata: {} };
}

describe("foldBatchNorm", () => {
  test("scales each output channel by γ/sqrt(var+eps) and shifts the bias (worked by hand)", () => {
    // C = 2, two weights per channel. s0 = 2/sqrt(4) = 1, s1 = 1/sqrt(0.25) = 2.
    const out = foldBatchNorm(Float64Array.from([1, 2, 3, 4]), Float64Array.from([0.5, -1]), {
      gamma: Float64Array.from([2, 1]), beta: Float64Array.from([0.1, 0.2]), mean: Float64Array.from([1, 0]), variance: Float64Array.from([4, 0.25]), eps: 0,
    });
    expect(Array.from(out.weight)).toEqual([1, 2, 6, 8]);
    // b'0 = (0.5 − 1)·1 + 0.1, b'1 = (−1 − 0)·2 + 0.2
    expect(out.bias[0]).toBeCloseTo(-0.4, 12);
    expect(out.bias[1]).toBeCloseTo(-1.8, 12);
  });

  test("a conv without bias and a batch norm without affine parameters: b = 0, γ = 1, β = 0", () => {
    const out = foldBatchNorm(Float64Array.from([3]), null, { gamma: null, beta: null, mean: Float64Array.from([2]), variance: Float64Array.from([9 - 1e-5]), eps: 1e-5 });
    expect(out.weight[0]).toBeCloseTo(1, 12);
    expect(out.bias[0]).toBeCloseTo(-2 / 3, 12);
  });
});

describe("planGraphWeights on PyTorch exports of one conv + batch-norm net", () => {
  const checkpoint = parseModelFile(fixture("segnet_a.safetensors"));

  test("the folded export: Conv + BN pairs folded and mapped by position, the head by name", () => {
    const graph = graphOf(fixture("segnet_a.folded.onnx"));
    expect(graph.batchNormNodes).toBe(0);
    const plan = planGraphWeights(graph, checkpoint);
    const summary = plan.assignments.map((a) => [a.parameter.name, a.matchedBy, a.source.kind === "TENSOR" ? a.source.name : `${a.source.kind} ${a.source.fold.conv.weight}+${a.source.fold.bn.mean}`]);
    expect(summary).toEqual([
      ["onnx::Conv_24", "POSITION", "FOLDED_WEIGHT conv1.weight+bn1.running_mean"],
      ["onnx::Conv_25", "POSITION", "FOLDED_BIAS conv1.weight+bn1.running_mean"],
      ["onnx::Conv_27", "POSITION", "FOLDED_WEIGHT conv2.weight+bn2.running_mean"],
      ["onnx::Conv_28", "POSITION", "FOLDED_BIAS conv2.weight+bn2.running_mean"],
      ["head.weight", "NAME", "head.weight"],
      ["head.bias", "NAME", "head.bias"],
    ]);
    expect(plan.folds.map((f) => [f.conv.bias, f.bn.weight, f.bn.bias, f.eps])).toEqual([
      [null, "bn1.weight", "bn1.bias", DEFAULT_BATCH_NORM_EPS],
      ["conv2.bias", "bn2.weight", "bn2.bias", DEFAULT_BATCH_NORM_EPS],
    ]);
    expect(plan.unused).toEqual([]);
  });

  test("the unfused export keeps its batch norms: every parameter by name, nothing folded", () => {
    const graph = graphOf(fixture("segnet_a.unfused.onnx"));
    expect(graph.batchNormNodes).toBe(2);
    const plan = planGraphWeights(graph, checkpoint);
    expect(plan.folds).toEqual([]);
    expect(plan.assignments.every((a) => a.matchedBy === "NAME" && a.source.kind === "TENSOR" && a.source.name === a.parameter.name)).toBe(true);
    expect(plan.assignments).toHaveLength(13);
  });

  test("a graph of another architecture is refused naming the initializer", () => {
    expect(() => planGraphWeights(graphOf(fixture("segnet_wide.folded.onnx")), checkpoint)).toThrow(/graph initializer "head\.weight" is F32 \[5, 6, 1, 1\] but the checkpoint's "head\.weight" is F32 \[3, 6, 1, 1\]/);
  });

  test("a checkpoint lacking a folded pair's conv is refused naming the first initializer it cannot fill", () => {
    const without = checkpointOf(checkpoint.tensors.filter((t) => !t.name.startsWith("conv2.")));
    expect(() => planGraphWeights(graphOf(fixture("segnet_a.folded.onnx")), without)).toThrow(/graph initializer "onnx::Conv_27" \(F32 \[6, 6, 3, 3\], parameter 3 of the graph, read by Conv\) cannot be mapped/);
  });
});

describe("planGraphWeights alignment rules", () => {
  const param = (t: TensorInfo, opType: string, slot: number) => ({ tensor: t, consumer: { opType, slot } });

  test("a generated-name MatMul weight takes a Linear weight by position, transposed", () => {
    const graph: GraphParameters = { batchNormNodes: 0, parameters: [param(tensor("onnx::MatMul_7", [4, 3]), "MatMul", 1), param(tensor("fc.bias", [3]), "Add", 1)] };
    const plan = planGraphWeights(graph, checkpointOf([tensor("fc.weight", [3, 4]), tensor("fc.bias", [3])]));
    expect(plan.assignments.map((a) => [a.parameter.name, a.matchedBy, a.source])).toEqual([
      ["onnx::MatMul_7", "POSITION", { kind: "TENSOR", name: "fc.weight", transpose: true }],
      ["fc.bias", "NAME", { kind: "TENSOR", name: "fc.bias", transpose: false }],
    ]);
  });

  test("checkpoint tensors the graph lacks are skipped and reported; integer tensors never map", () => {
    const graph: GraphParameters = { batchNormNodes: 0, parameters: [param(tensor("onnx::Conv_1", [2, 1, 1, 1]), "Conv", 1), param(tensor("onnx::Conv_2", [5, 2, 1, 1]), "Conv", 1)] };
    const plan = planGraphWeights(graph, checkpointOf([tensor("a.weight", [2, 1, 1, 1]), tensor("steps", [1], "I64"), tensor("aux.weight", [7, 2, 1, 1]), tensor("b.weight", [5, 2, 1, 1])]));
    expect(plan.assignments.map((a) => (a.source.kind === "TENSOR" ? a.source.name : ""))).toEqual(["a.weight", "b.weight"]);
    expect(plan.unused).toEqual(["aux.weight"]);
  });

  test("order matters: a checkpoint value is never taken from before the previous match", () => {
    const graph: GraphParameters = { batchNormNodes: 0, parameters: [param(tensor("onnx::Conv_1", [5, 2, 1, 1]), "Conv", 1), param(tensor("onnx::Conv_2", [2, 1, 1, 1]), "Conv", 1)] };
    expect(() => planGraphWeights(graph, checkpointOf([tensor("a.weight", [2, 1, 1, 1]), tensor("b.weight", [5, 2, 1, 1])]))).toThrow(/"onnx::Conv_2".*none of that shape and dtype after "b\.weight"/);
  });
});
