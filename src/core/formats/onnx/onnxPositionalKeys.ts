import { positionalKeys, type KeyedTensor } from "../../structure/positionalKeys";
import type { ConstantRole } from "./classifyConstants";
import type { OnnxModelRecord, OnnxValueInfo } from "./onnxModelRecord";
import { PASS_THROUGH_SLOTS, slotsOf } from "./operatorSlots";

/**
 * The positional key (core/structure/positionalKeys) of every listed tensor of an ONNX graph, by
 * tensor name. A tensor reaching its layer's operator through Cast / Identity / Q / DQ is keyed
 * by the slot that chain enters.
 *
 * @param order the nodes' stable topological order (orderNodes)
 * @param roles classifyConstants' verdict for each of `model.tensors`
 * @param dataInputs the graph's inputs that are not initializers
 */
export function onnxPositionalKeys(model: OnnxModelRecord, order: readonly number[], roles: readonly ConstantRole[], dataInputs: readonly OnnxValueInfo[]): Map<string, string> {
  const constants = new Map(model.tensors.map((t) => [t.name, { dtype: t.type.dtype, shape: t.dims }]));
  // The constant a pass-through chain carries: DequantizeLinear(w_q) → w_q.
  const carried = new Map<string, string>();
  for (const index of order) {
    const node = model.nodes[index];
    if (!slotsOf(PASS_THROUGH_SLOTS, node.opType, node.domain).includes(0)) continue;
    const source = node.inputs[0];
    const root = source === undefined ? undefined : constants.has(source) ? source : carried.get(source);
    if (root !== undefined && node.outputs[0]) carried.set(node.outputs[0], root);
  }
  const tensors: KeyedTensor[] = [];
  model.tensors.forEach((t, i) => {
    const owner = roles[i].owner;
    if (!roles[i].listed || owner === undefined) return;
    const slot = model.nodes[owner].inputs.findIndex((v) => v === t.name || carried.get(v) === t.name);
    tensors.push({ name: t.name, owner, slot, dtype: t.type.dtype, shape: t.dims });
  });
  return positionalKeys(
    {
      nodes: model.nodes.map((n) => ({ op: n.domain === "" || n.domain === "ai.onnx" ? n.opType : `${n.domain}:${n.opType}`, attributes: n.attributes ?? "", inputs: n.inputs, outputs: n.outputs })),
      order,
      inputs: dataInputs.map((v) => ({ name: v.name, signature: typeSignature(v) })),
      constants,
    },
    tensors,
  );
}

/** Element type and dims; symbolic and unknown dims are `?` (their names differ between exports). */
function typeSignature(v: OnnxValueInfo): string {
  return `${v.elemType}[${v.shape === undefined ? "*" : v.shape.map((d) => (typeof d === "number" ? d : "?")).join(",")}]`;
}
