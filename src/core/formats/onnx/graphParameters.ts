import type { ParsedModel, TensorInfo } from "../../structure/types";
import type { ByteSource } from "../byteSource";
import { orderNodes } from "./orderNodes";
import { readOnnxModel } from "./readOnnxModel";

/** A graph parameter and the node input it feeds first. */
export interface GraphParameter {
  tensor: TensorInfo;
  /** The first consuming node's operator (default domain) and input slot. */
  consumer: { opType: string; slot: number };
}

export interface GraphParameters {
  /**
   * The graph's floating parameters in canonical order: nodes in forward order (orderNodes), each
   * node's inputs by slot, every parameter at its first use — the order in which a PyTorch module
   * registers the weights the export came from (a Conv's weight before its bias).
   */
  parameters: GraphParameter[];
  /** How many BatchNormalization nodes the graph keeps (0 in an export with batch norm folded). */
  batchNormNodes: number;
}

/**
 * Reads which node consumes each of a parsed ONNX model's floating parameters, for mapping a
 * checkpoint's tensors onto them. Walks the graph's nodes only; no tensor data is read.
 *
 * @param parsed parseOnnx's result for the same source
 */
export function readGraphParameters(source: ByteSource, parsed: ParsedModel): GraphParameters {
  const model = readOnnxModel(source);
  const params = new Map(parsed.tensors.filter((t) => t.mergeable).map((t) => [t.name, t]));
  const parameters: GraphParameter[] = [];
  const seen = new Set<string>();
  let batchNormNodes = 0;
  for (const index of orderNodes(model.nodes)) {
    const node = model.nodes[index];
    const opType = node.domain === "" || node.domain === "ai.onnx" ? node.opType : `${node.domain}.${node.opType}`;
    if (opType === "BatchNormalization") batchNormNodes++;
    node.inputs.forEach((input, slot) => {
      const tensor = params.get(input);
      if (!tensor || seen.has(input)) return;
      seen.add(input);
      parameters.push({ tensor, consumer: { opType, slot } });
    });
  }
  // A parameter no node reads directly (reached through a subgraph): after the others, in parse order.
  for (const tensor of params.values()) if (!seen.has(tensor.name)) parameters.push({ tensor, consumer: { opType: "", slot: -1 } });
  return { parameters, batchNormNodes };
}
