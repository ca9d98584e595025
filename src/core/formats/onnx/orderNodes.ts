import type { OnnxNodeRecord } from "./onnxModelRecord";

/**
 * The forward order of the graph's nodes, which numbers the layers (docs/CONVENTIONS.md, Layers): a
 * depth-first walk of the node list that emits any not-yet-emitted producer of a node's inputs
 * just before the node. An already-sorted list keeps its order; a list with appended nodes (fp16
 * converters append Casts) is repaired the same way every time. Iterative, so a 100k-node chain
 * cannot overflow the stack; a cycle (corrupt graph) is cut where it closes, never looped on.
 *
 * @returns node indices in forward order (a permutation of 0..nodes.length-1)
 */
export function orderNodes(nodes: readonly OnnxNodeRecord[]): number[] {
  const producer = new Map<string, number>();
  nodes.forEach((node, i) => {
    for (const out of node.outputs) if (out !== "" && !producer.has(out)) producer.set(out, i);
  });
  const state = new Uint8Array(nodes.length); // 0 new, 1 on the stack, 2 emitted
  const order: number[] = [];
  // Stack frames: [node index, next input position to examine].
  const stack: Array<[number, number]> = [];
  for (let root = 0; root < nodes.length; root++) {
    if (state[root] !== 0) continue;
    state[root] = 1;
    stack.push([root, 0]);
    while (stack.length > 0) {
      const frame = stack[stack.length - 1];
      const [index, position] = frame;
      const inputs = nodes[index].inputs;
      if (position < inputs.length) {
        frame[1] = position + 1;
        const p = producer.get(inputs[position]);
        if (p !== undefined && state[p] === 0) {
          state[p] = 1;
          stack.push([p, 0]);
        }
        continue;
      }
      stack.pop();
      state[index] = 2;
      order.push(index);
    }
  }
  return order;
}
