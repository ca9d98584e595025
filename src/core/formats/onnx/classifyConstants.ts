import { isFloating } from "../../structure/types";
import type { OnnxModelRecord, OnnxNodeRecord, OnnxTensorRecord } from "./onnxModelRecord";
import { PASS_THROUGH_SLOTS, QUANT_SLOTS, SHAPE_ARITHMETIC, SHAPE_SLOTS, WEIGHT_SLOTS, slotsOf } from "./operatorSlots";

export interface ConstantRole {
  /** Listed in the structure: parameters and quantized / integer weight-slot tensors. */
  listed: boolean;
  /** A floating parameter that merges may average. */
  mergeable: boolean;
  /** Index of the node whose layer the tensor belongs to (its earliest consumer in forward order). */
  owner?: number;
}

interface Use {
  node: number;
  slot: number;
}

/**
 * Beyond this many nested shape-arithmetic hops a value is treated as data: the answer only
 * affects constants ≥ 2 elements outside weight slots, and a bound keeps a crafted 100k-node
 * chain from exhausting the stack.
 */
const MAX_SHAPE_DEPTH = 1000;

/**
 * Classifies every constant tensor: parameters are floating constants
 * in a weight slot (any size), or with ≥ 2 elements and no use ending in a shape-like input
 * (directly or through shape arithmetic), looking through Cast / Identity / Q / DQ chains.
 * Integer and quantization tensors in weight or quantization slots are listed, not mergeable.
 *
 * @param position each node's rank in forward order (orderNodes), to pick the earliest consumer
 */
export function classifyConstants(model: OnnxModelRecord, position: readonly number[]): ConstantRole[] {
  const uses = new Map<string, Use[]>();
  model.nodes.forEach((node, index) => {
    node.inputs.forEach((input, slot) => {
      if (input === "") return;
      let list = uses.get(input);
      if (!list) uses.set(input, (list = []));
      list.push({ node: index, slot });
    });
  });
  const shapeMemo = new Map<string, boolean>();
  const inProgress = new Set<string>();

  const feedsOnlyShapes = (value: string, depth: number): boolean => {
    const known = shapeMemo.get(value);
    if (known !== undefined) return known;
    const list = uses.get(value);
    if (!list || list.length === 0 || depth > MAX_SHAPE_DEPTH || inProgress.has(value)) return false;
    inProgress.add(value);
    const result = list.every((u) => endsInShape(u, depth + 1));
    inProgress.delete(value);
    shapeMemo.set(value, result);
    return result;
  };
  const endsInShape = (u: Use, depth: number): boolean => {
    const node = model.nodes[u.node];
    if (slotsOf(SHAPE_SLOTS, node.opType, node.domain).includes(u.slot)) return true;
    if (!isDefaultDomain(node) || !SHAPE_ARITHMETIC.has(node.opType)) return false;
    const outputs = node.outputs.filter((o) => o !== "");
    return outputs.length > 0 && outputs.every((o) => feedsOnlyShapes(o, depth));
  };

  return model.tensors.map((tensor) => classify(tensor, model.nodes, uses, position, (u) => endsInShape(u, 0)));
}

function classify(
  tensor: OnnxTensorRecord,
  nodes: readonly OnnxNodeRecord[],
  uses: ReadonlyMap<string, Use[]>,
  position: readonly number[],
  endsInShape: (u: Use) => boolean,
): ConstantRole {
  const terminals: Use[] = [];
  const through: number[] = [];
  let quantized = false;
  // [value, reached through Q/DQ]: a scale is quantization data only where it enters directly.
  const queue: Array<[string, boolean]> = [[tensor.name, false]];
  const seen = new Set<string>([tensor.name]);
  while (queue.length > 0) {
    const [value, viaQdq] = queue.pop()!;
    for (const u of uses.get(value) ?? []) {
      const node = nodes[u.node];
      if (!viaQdq && slotsOf(QUANT_SLOTS, node.opType, node.domain).includes(u.slot)) quantized = true;
      if (!slotsOf(PASS_THROUGH_SLOTS, node.opType, node.domain).includes(u.slot)) {
        terminals.push(u);
        continue;
      }
      through.push(u.node);
      const out = node.outputs[0];
      if (out && !seen.has(out)) {
        seen.add(out);
        queue.push([out, viaQdq || node.opType === "QuantizeLinear" || node.opType === "DequantizeLinear"]);
      }
    }
  }
  const inWeightSlot = terminals.some((u) => slotsOf(WEIGHT_SLOTS, nodes[u.node].opType, nodes[u.node].domain).includes(u.slot));
  const inQuantSlot = quantized || terminals.some((u) => slotsOf(QUANT_SLOTS, nodes[u.node].opType, nodes[u.node].domain).includes(u.slot));
  const floating = isFloating(tensor.type.dtype);

  let listed = false;
  let mergeable = false;
  if (floating && !inQuantSlot && inWeightSlot) mergeable = listed = true;
  else if (floating && !inQuantSlot && tensor.elements >= 2 && terminals.length > 0 && !terminals.some(endsInShape)) mergeable = listed = true;
  else if (inQuantSlot || inWeightSlot) listed = true;
  if (!listed) return { listed: false, mergeable: false };

  const candidates = terminals.length > 0 ? terminals.map((u) => u.node) : through;
  let owner: number | undefined;
  for (const n of candidates) if (owner === undefined || position[n] < position[owner]) owner = n;
  return { listed: owner !== undefined, mergeable: mergeable && owner !== undefined, owner };
}

function isDefaultDomain(node: OnnxNodeRecord): boolean {
  return node.domain === "" || node.domain === "ai.onnx";
}
