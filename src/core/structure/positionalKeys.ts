import { createHash } from "node:crypto";

/**
 * A dataflow graph reduced to what positional keys read: operators, the values they consume and
 * produce, the graph's inputs and its constants. Names only say which value is which; they never
 * enter a key.
 */
export interface DataflowGraph {
  nodes: readonly DataflowNode[];
  /** Node indices in a stable topological order (producers before consumers). */
  order: readonly number[];
  /** The graph's data inputs (not constants), in declaration order. */
  inputs: ReadonlyArray<{ name: string; signature: string }>;
  /** Every constant value (weights and small constants alike), by value name. */
  constants: ReadonlyMap<string, { dtype: string; shape: readonly number[] }>;
}

export interface DataflowNode {
  /** Operator type with its domain: `Conv`, `com.microsoft:FusedConv`. */
  op: string;
  /** The attributes in a canonical text form (sorted by name, values included). */
  attributes: string;
  /** Input value names by slot; "" for an absent optional input. */
  inputs: readonly string[];
  outputs: readonly string[];
}

/** A tensor to key: the node that consumes it (its layer's operator) and the slot it enters by. */
export interface KeyedTensor {
  name: string;
  owner: number;
  slot: number;
  dtype: string;
  shape: readonly number[];
}

/** Bumped whenever the encoding changes, so keys of two encodings never compare equal. */
const VERSION = "layermerge.position.v1";

/**
 * The positional key of every given tensor: a hash of its ancestor cone, from the graph alone.
 *
 * A value's key is a hash of how it is computed: a graph input by its position and type, a constant
 * by its dtype and shape (never its values: two trained models differ there), a node's output by
 * the node's operator, attributes and the keys of its inputs slot by slot, and the output's index.
 * Nodes whose hash another node earlier in `order` already had (two identical branches reading the
 * same value) are told apart by their occurrence, counted in that order, so the branches and all
 * they feed stay distinct. A tensor's key is its consuming node's key with the slot, dtype and
 * shape.
 *
 * Keys therefore depend on upstream structure only: two graphs identical up to some node (a
 * backbone under different heads, the same network exported twice and numbered differently) give
 * the tensors of their common part equal keys, and a tensor whose cone differs anywhere gets
 * another key. Every key of a tensor descends from the graph's inputs through the first operators
 * that hold weights, which `positionalOverlap`'s candidate pre-check relies on.
 */
export function positionalKeys(graph: DataflowGraph, tensors: readonly KeyedTensor[]): Map<string, string> {
  const values = new Map<string, string>();
  graph.inputs.forEach((input, i) => values.set(input.name, digest(`input|${i}|${input.signature}`)));
  for (const [name, c] of graph.constants) values.set(name, digest(`const|${c.dtype}|[${c.shape.join(",")}]`));
  const keyOf = (value: string): string => (value === "" ? "-" : values.get(value) ?? "?");

  const nodeKeys = new Array<string>(graph.nodes.length);
  const occurrences = new Map<string, number>();
  for (const index of graph.order) {
    const node = graph.nodes[index];
    const content = digest(`node|${node.op}|${node.attributes}|${node.inputs.map(keyOf).join(",")}`);
    const seen = occurrences.get(content) ?? 0;
    occurrences.set(content, seen + 1);
    const key = seen === 0 ? content : digest(`${content}#${seen}`);
    nodeKeys[index] = key;
    node.outputs.forEach((out, j) => {
      // A constant keeps its own key (a Constant node's output is a constant like an initializer).
      if (out !== "" && !values.has(out)) values.set(out, digest(`${key}|out|${j}`));
    });
  }
  const keys = new Map<string, string>();
  for (const t of tensors) {
    keys.set(t.name, digest(`${VERSION}|tensor|${nodeKeys[t.owner]}|${t.slot}|${t.dtype}|[${t.shape.join(",")}]`));
  }
  return keys;
}

function digest(text: string): string {
  // 128 bits: collisions are out of reach for any registry, and rows stay short.
  return createHash("sha256").update(text).digest("hex").slice(0, 32);
}
