import { invariant } from "../../errors";
import { encodeVarint } from "../protobuf/protoWriter";
import type { LenSpan, OnnxTensorRecord } from "./onnxModelRecord";

export interface PrefixEdit {
  /** The length prefix's bytes [start, end) are replaced by `bytes`. */
  start: number;
  end: number;
  bytes: Uint8Array;
}

/**
 * The length prefixes to rewrite when TensorProtos change size: each enclosing message (attribute
 * → node → graph, or initializer → graph) grows by its children's growth, and a prefix whose
 * varint gets longer grows its own parent in turn — so deltas are summed innermost first.
 *
 * @returns the prefix edits (file order not guaranteed) and the total change in file size
 */
export function prefixEdits(changes: ReadonlyArray<{ record: OnnxTensorRecord; delta: number }>): { edits: PrefixEdit[]; delta: number } {
  interface Node {
    span: LenSpan;
    depth: number;
    parent?: Node;
    delta: number;
  }
  const nodes = new Map<number, Node>();
  for (const { record, delta } of changes) {
    if (delta === 0) continue;
    let parent: Node | undefined;
    record.ancestry.forEach((span, depth) => {
      let node = nodes.get(span.prefixOffset);
      if (!node) nodes.set(span.prefixOffset, (node = { span, depth, parent, delta: 0 }));
      invariant(node.depth === depth, "a length-delimited field appears at two depths");
      parent = node;
    });
    invariant(parent !== undefined, `tensor "${record.name}" has no enclosing message`);
    parent.delta += delta;
  }
  const edits: PrefixEdit[] = [];
  let total = 0;
  for (const node of [...nodes.values()].sort((a, b) => b.depth - a.depth)) {
    if (node.delta === 0) continue;
    const newLength = node.span.length + node.delta;
    invariant(newLength >= 0, "a message shrank below zero bytes");
    const bytes = encodeVarint(newLength);
    const growth = node.delta + bytes.length - (node.span.offset - node.span.prefixOffset);
    edits.push({ start: node.span.prefixOffset, end: node.span.offset, bytes });
    if (node.parent) node.parent.delta += growth;
    else total += growth;
  }
  return { edits, delta: total };
}
