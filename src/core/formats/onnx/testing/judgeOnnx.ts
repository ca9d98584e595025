/**
 * An independent verdict on an ONNX model, for fuzz tests. Written from onnx.proto and the ONNX
 * IR specification alone, with its own protobuf decoding: it shares no code with the reader
 * (readOnnxModel / ProtoReader), so that a bug there is not repeated here.
 *
 * A file is valid when:
 * - it decodes as a ModelProto: every field of the messages walked below is well formed
 *   (tag, wire type, varint of at most 10 bytes, length within the enclosing message), and so is
 *   every nested graph (AttributeProto g / graphs);
 * - it has an ir_version ≥ 1 and a graph;
 * - the names walked (node inputs and outputs, initializer, sparse initializer and graph input
 *   names) are UTF-8, as protobuf strings must be;
 * - every node input names a value of its graph — an initializer (dense or sparse), a graph
 *   input, or the output of some node anywhere in that graph (nodes may be out of order) — or of
 *   an enclosing graph, for nodes inside a subgraph; an empty input is an omitted optional one.
 */

export type Verdict = { valid: true } | { valid: false; reason: string };

class Invalid extends Error {}

function fail(reason: string): never {
  throw new Invalid(reason);
}

export function judgeOnnx(file: Uint8Array): Verdict {
  try {
    check(file);
    return { valid: true };
  } catch (e) {
    if (e instanceof Invalid) return { valid: false, reason: e.message };
    throw e;
  }
}

interface Field {
  number: number;
  wire: number;
  /** Varint value (as bigint) for wire type 0. */
  varint?: bigint;
  /** Payload bounds for wire type 2. */
  from: number;
  to: number;
}

/** Every field of the message in bytes[from, to), decoded; anything malformed is invalid. */
function fields(bytes: Uint8Array, from: number, to: number): Field[] {
  const out: Field[] = [];
  let p = from;
  const varint = (): bigint => {
    let v = 0n;
    for (let i = 0; i < 10; i++) {
      if (p >= to) fail("varint runs past its message");
      const b = bytes[p++]!;
      v |= BigInt(b & 0x7f) << BigInt(7 * i);
      if ((b & 0x80) === 0) {
        if (v >= 1n << 64n) fail("varint above 64 bits");
        return v;
      }
    }
    fail("varint longer than 10 bytes");
  };
  while (p < to) {
    const tag = varint();
    const number = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (number < 1 || number > 2 ** 29 - 1) fail(`field number ${number}`);
    if (wire === 0) out.push({ number, wire, varint: varint(), from: p, to: p });
    else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4;
      if (to - p < size) fail("fixed field runs past its message");
      out.push({ number, wire, from: p, to: p + size });
      p += size;
    } else if (wire === 2) {
      const length = varint();
      if (length > BigInt(to - p)) fail("length-delimited field runs past its message");
      const start = p;
      p += Number(length);
      out.push({ number, wire, from: start, to: p });
    } else fail(`wire type ${wire}`);
  }
  return out;
}

function text(bytes: Uint8Array, f: Field): string {
  if (f.wire !== 2) fail(`field ${f.number} should be a string`);
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(f.from, f.to));
  } catch {
    fail(`field ${f.number} is not UTF-8`);
  }
}

function message(bytes: Uint8Array, f: Field): Field[] {
  if (f.wire !== 2) fail(`field ${f.number} should be a message`);
  return fields(bytes, f.from, f.to);
}

interface Node {
  inputs: string[];
  outputs: string[];
  subgraphs: Field[];
}

function check(bytes: Uint8Array): void {
  let ir = 0n;
  let graph: Field | undefined;
  for (const f of fields(bytes, 0, bytes.length)) {
    if (f.number === 1) {
      if (f.wire !== 0) fail("ir_version is not a varint");
      ir = f.varint!;
    } else if (f.number === 7) graph = f;
  }
  // int64 ir_version: a varint ≥ 2^63 is negative.
  if (ir < 1n || ir >= 1n << 63n) fail("no ir_version ≥ 1");
  if (!graph) fail("no graph");
  checkGraph(bytes, graph, [], 0);
}

/** `outer`: the names of the enclosing graphs, innermost last. */
function checkGraph(bytes: Uint8Array, graph: Field, outer: Array<Set<string>>, depth: number): void {
  if (depth > 50) fail("subgraphs nested too deep");
  const names = new Set<string>();
  const nodes: Node[] = [];
  for (const f of message(bytes, graph)) {
    if (f.number === 1) {
      const node: Node = { inputs: [], outputs: [], subgraphs: [] };
      for (const g of message(bytes, f)) {
        if (g.number === 1) node.inputs.push(text(bytes, g));
        else if (g.number === 2) node.outputs.push(text(bytes, g));
        else if (g.number === 5) {
          for (const a of message(bytes, g)) {
            if (a.number === 6) node.subgraphs.push(a);
            else if (a.number === 11) node.subgraphs.push(a);
          }
        }
      }
      nodes.push(node);
    } else if (f.number === 5) {
      // TensorProto.name is field 8.
      for (const t of message(bytes, f)) if (t.number === 8) names.add(text(bytes, t));
    } else if (f.number === 15) {
      // SparseTensorProto.values (1) is a TensorProto whose name (8) names the sparse tensor.
      for (const s of message(bytes, f)) {
        if (s.number !== 1) continue;
        for (const t of message(bytes, s)) if (t.number === 8) names.add(text(bytes, t));
      }
    } else if (f.number === 11) {
      // ValueInfoProto.name is field 1.
      for (const v of message(bytes, f)) if (v.number === 1) names.add(text(bytes, v));
    }
  }
  for (const n of nodes) for (const o of n.outputs) if (o !== "") names.add(o);
  const scopes = [...outer, names];
  nodes.forEach((n, i) => {
    for (const input of n.inputs) {
      if (input === "") continue;
      if (!scopes.some((s) => s.has(input))) fail(`node #${i} input "${input}" names nothing (depth ${depth})`);
    }
    for (const g of n.subgraphs) checkGraph(bytes, g, scopes, depth + 1);
  });
}
