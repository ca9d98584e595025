import { badInput } from "../../errors";
import type { OnnxModelRecord, OnnxNodeRecord, OnnxSubgraphRecord } from "./onnxModelRecord";

/**
 * Every node input must name a value of its graph: an initializer, a graph input, or the output
 * of some node anywhere in the graph (order is not required: exporters append nodes out of
 * order, and orderNodes repairs that). Inside a subgraph a name from an enclosing graph counts;
 * an empty name is an omitted optional input. A model breaking this is refused (onnx.checker and
 * onnxruntime refuse it too): registering it would silently drop the tensor the input meant,
 * e.g. a Conv's weight whose name was corrupted.
 *
 * @throws DomainError BAD_USER_INPUT naming the node and the input
 */
export function checkReferences(model: OnnxModelRecord): void {
  const defined = new Set<string>();
  for (const t of model.tensors) if (t.origin === "initializer") defined.add(t.name);
  for (const i of model.inputs) defined.add(i.name);
  checkNodes(model.nodes, [withOutputs(defined, model.nodes)], "the graph");
}

function withOutputs(defined: Set<string>, nodes: readonly OnnxNodeRecord[]): Set<string> {
  for (const n of nodes) for (const o of n.outputs) if (o !== "") defined.add(o);
  return defined;
}

function checkNodes(nodes: readonly OnnxNodeRecord[], scopes: ReadonlyArray<ReadonlySet<string>>, where: string): void {
  nodes.forEach((node, index) => {
    node.inputs.forEach((input, slot) => {
      if (input === "" || scopes.some((s) => s.has(input))) return;
      const label = `${node.opType || "node"} node ${JSON.stringify(node.name || node.outputs[0] || `#${index}`)}`;
      const enclosing = scopes.length > 1 ? ", an enclosing graph's value" : "";
      throw badInput(
        `${label} in ${where} has input ${slot} ${JSON.stringify(input)}, which names no initializer, graph input or node output of the graph${enclosing}; the model is incomplete or corrupt`,
        undefined,
        { node: node.name, nodeIndex: index, opType: node.opType, input, slot },
      );
    });
    for (const g of node.subgraphs ?? []) checkSubgraph(g, scopes, `${node.opType || "node"} node ${JSON.stringify(node.name || node.outputs[0] || `#${index}`)}`, where);
  });
}

function checkSubgraph(graph: OnnxSubgraphRecord, outer: ReadonlyArray<ReadonlySet<string>>, owner: string, where: string): void {
  const own = withOutputs(new Set(graph.defined), graph.nodes);
  checkNodes(graph.nodes, [...outer, own], `the ${JSON.stringify(graph.attribute)} subgraph of ${owner} (in ${where})`);
}
