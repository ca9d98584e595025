import { ProtoWriter, WIRE_FIXED32, WIRE_FIXED64, WIRE_VARINT } from "../../protobuf/protoWriter";
import { float32ToBfloat16Bits, float32ToHalfBits } from "./float16";

/**
 * A small ONNX writer for tests: builds ModelProto bytes from plain
 * descriptions, with every tensor encoding the reader must handle. Written from onnx.proto3
 * directly, sharing nothing with the reader but the protobuf writer.
 */

export type TestDType = "F32" | "F16" | "BF16" | "F64" | "I8" | "U8" | "I32" | "I64";

/**
 * raw: raw_data. typed: the packed typed field (float_data, int32_data for 16-bit floats and
 * small ints, double_data, int64_data). typed-unpacked: one field per value. external: raw bytes
 * in the side file (initializers only).
 */
export type TestEncoding = "raw" | "typed" | "typed-unpacked" | "external";

export interface TestTensor {
  name: string;
  dtype: TestDType;
  dims: number[];
  /** Element values (floats are rounded to the dtype by the writer). */
  values: readonly number[];
  encoding?: TestEncoding;
}

export type TestAttribute =
  | { name: string; int: number }
  | { name: string; ints: number[] }
  | { name: string; float: number }
  | { name: string; floats: number[] }
  | { name: string; string: string }
  | { name: string; tensor: TestTensor }
  /** A graph-valued attribute (If branches, Loop / Scan bodies); `graphs` is the repeated form. */
  | { name: string; graph: TestGraph }
  | { name: string; graphs: TestGraph[] };

/** A nested graph: inputs, outputs and initializers of its own; it may use enclosing graphs' values. */
export interface TestGraph {
  name?: string;
  inputs: TestValueInfo[];
  outputs: TestValueInfo[];
  nodes: TestNode[];
  initializers: TestTensor[];
}

export interface TestNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attributes?: TestAttribute[];
}

export interface TestValueInfo {
  name: string;
  dtype: TestDType;
  /** Numbers or symbolic dim names. */
  shape: Array<number | string>;
}

export interface TestModel {
  irVersion?: number;
  opset?: Array<{ domain: string; version: number }>;
  producerName?: string;
  producerVersion?: string;
  graphName?: string;
  inputs: TestValueInfo[];
  outputs: TestValueInfo[];
  nodes: TestNode[];
  initializers: TestTensor[];
  metadataProps?: Record<string, string>;
  /** Name of the side file for `external` tensors (relative to the model's folder). */
  externalFileName?: string;
}

export interface WrittenModel {
  bytes: Uint8Array;
  /** The side file's bytes when some tensor used the `external` encoding. */
  external?: { fileName: string; bytes: Uint8Array };
}

/** TensorProto.DataType numbers (onnx.proto3). */
export const ONNX_TYPE: Record<TestDType, number> = { F32: 1, U8: 2, I8: 3, I32: 6, I64: 7, F16: 10, F64: 11, BF16: 16 };
const ELEMENT_BYTES: Record<TestDType, number> = { F32: 4, U8: 1, I8: 1, I32: 4, I64: 8, F16: 2, F64: 8, BF16: 2 };

/** Little-endian bytes of `values` in `dtype` (floats rounded to nearest even). */
export function encodeValues(dtype: TestDType, values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * ELEMENT_BYTES[dtype]);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => {
    switch (dtype) {
      case "F32": return v.setFloat32(i * 4, x, true);
      case "F64": return v.setFloat64(i * 8, x, true);
      case "F16": return v.setUint16(i * 2, float32ToHalfBits(x), true);
      case "BF16": return v.setUint16(i * 2, float32ToBfloat16Bits(x), true);
      case "I8": return v.setInt8(i, x);
      case "U8": return v.setUint8(i, x);
      case "I32": return v.setInt32(i * 4, x, true);
      case "I64": return v.setBigInt64(i * 8, BigInt(x), true);
    }
  });
  return out;
}

export function writeOnnxModel(model: TestModel): WrittenModel {
  const side = new ProtoWriter();
  const externalFileName = model.externalFileName ?? "model.onnx.data";
  const w = new ProtoWriter();
  w.varintField(1, model.irVersion ?? 8);
  if (model.producerName !== undefined) w.stringField(2, model.producerName);
  if (model.producerVersion !== undefined) w.stringField(3, model.producerVersion);
  w.messageField(7, (g) => {
    for (const node of model.nodes) g.messageField(1, (n) => writeNode(n, node));
    g.stringField(2, model.graphName ?? "test_graph");
    for (const t of model.initializers) g.messageField(5, (tw) => writeTensor(tw, t, { side, fileName: externalFileName }));
    for (const i of model.inputs) g.messageField(11, (v) => writeValueInfo(v, i));
    for (const o of model.outputs) g.messageField(12, (v) => writeValueInfo(v, o));
  });
  for (const o of model.opset ?? [{ domain: "", version: 17 }]) {
    w.messageField(8, (ow) => {
      if (o.domain !== "") ow.stringField(1, o.domain);
      ow.varintField(2, o.version);
    });
  }
  for (const [key, value] of Object.entries(model.metadataProps ?? {})) {
    w.messageField(14, (e) => e.stringField(1, key).stringField(2, value));
  }
  const written: WrittenModel = { bytes: w.finish() };
  if (side.size > 0) written.external = { fileName: externalFileName, bytes: side.finish() };
  return written;
}

function writeNode(w: ProtoWriter, node: TestNode): void {
  for (const i of node.inputs) w.stringField(1, i);
  for (const o of node.outputs) w.stringField(2, o);
  if (node.name !== undefined) w.stringField(3, node.name);
  w.stringField(4, node.opType);
  for (const a of node.attributes ?? []) w.messageField(5, (aw) => writeAttribute(aw, a));
  if (node.domain) w.stringField(7, node.domain);
}

/** AttributeProto: name 1, f 2, i 3, s 4, t 5, g 6, floats 7, ints 8, graphs 11, type 20 (FLOAT 1, INT 2, STRING 3, TENSOR 4, GRAPH 5, FLOATS 6, INTS 7, GRAPHS 10). */
function writeAttribute(w: ProtoWriter, a: TestAttribute): void {
  w.stringField(1, a.name);
  if ("int" in a) w.varintField(3, a.int).varintField(20, 2);
  else if ("ints" in a) {
    for (const i of a.ints) w.varintField(8, i);
    w.varintField(20, 7);
  } else if ("float" in a) w.tag(2, WIRE_FIXED32).float32(a.float).varintField(20, 1);
  else if ("floats" in a) {
    for (const f of a.floats) w.tag(7, WIRE_FIXED32).float32(f);
    w.varintField(20, 6);
  } else if ("string" in a) w.stringField(4, a.string).varintField(20, 3);
  else if ("graph" in a) w.messageField(6, (g) => writeGraph(g, a.graph)).varintField(20, 5);
  else if ("graphs" in a) {
    for (const graph of a.graphs) w.messageField(11, (g) => writeGraph(g, graph));
    w.varintField(20, 10);
  } else {
    w.messageField(5, (tw) => writeTensor(tw, a.tensor, undefined));
    w.varintField(20, 4);
  }
}

/** GraphProto: node 1, name 2, initializer 5, input 11, output 12 (subgraph tensors are always raw). */
function writeGraph(g: ProtoWriter, graph: TestGraph): void {
  for (const node of graph.nodes) g.messageField(1, (n) => writeNode(n, node));
  g.stringField(2, graph.name ?? "subgraph");
  for (const t of graph.initializers) g.messageField(5, (tw) => writeTensor(tw, t, undefined));
  for (const i of graph.inputs) g.messageField(11, (v) => writeValueInfo(v, i));
  for (const o of graph.outputs) g.messageField(12, (v) => writeValueInfo(v, o));
}

/** TensorProto: dims 1, data_type 2, float_data 4, int32_data 5, int64_data 7, name 8, raw_data 9, double_data 10, external_data 13, data_location 14. */
function writeTensor(w: ProtoWriter, t: TestTensor, external: { side: ProtoWriter; fileName: string } | undefined): void {
  for (const d of t.dims) w.varintField(1, d);
  w.varintField(2, ONNX_TYPE[t.dtype]);
  w.stringField(8, t.name);
  const encoding = t.encoding ?? "raw";
  if (encoding === "raw") w.bytesField(9, encodeValues(t.dtype, t.values));
  else if (encoding === "external") {
    if (!external) throw new Error(`test writer: external data is only written for initializers (${t.name})`);
    // 64-byte alignment, as onnx.external_data_helper allows mmap-friendly offsets.
    while (external.side.size % 64 !== 0) external.side.raw(Uint8Array.of(0));
    const offset = external.side.size;
    const bytes = encodeValues(t.dtype, t.values);
    external.side.raw(bytes);
    w.messageField(13, (e) => e.stringField(1, "location").stringField(2, external.fileName));
    w.messageField(13, (e) => e.stringField(1, "offset").stringField(2, String(offset)));
    w.messageField(13, (e) => e.stringField(1, "length").stringField(2, String(bytes.length)));
    w.varintField(14, 1);
  } else writeTyped(w, t, encoding === "typed");
}

function writeTyped(w: ProtoWriter, t: TestTensor, packed: boolean): void {
  const { field, wire, encode } = typedField(t.dtype);
  if (packed) {
    const inner = new ProtoWriter();
    t.values.forEach((x) => encode(inner, x));
    w.bytesField(field, inner.finish());
  } else {
    t.values.forEach((x) => encode(w.tag(field, wire), x));
  }
}

function typedField(dtype: TestDType): { field: number; wire: number; encode: (w: ProtoWriter, x: number) => void } {
  switch (dtype) {
    case "F32": return { field: 4, wire: WIRE_FIXED32, encode: (w, x) => w.float32(x) };
    case "F64": return { field: 10, wire: WIRE_FIXED64, encode: (w, x) => w.float64(x) };
    case "F16": return { field: 5, wire: WIRE_VARINT, encode: (w, x) => w.varint(float32ToHalfBits(x)) };
    case "BF16": return { field: 5, wire: WIRE_VARINT, encode: (w, x) => w.varint(float32ToBfloat16Bits(x)) };
    case "I8":
    case "U8":
    case "I32": return { field: 5, wire: WIRE_VARINT, encode: (w, x) => w.varint(x) };
    case "I64": return { field: 7, wire: WIRE_VARINT, encode: (w, x) => w.varint(x) };
  }
}

/** ValueInfoProto: name 1, type 2 { tensor_type 1 { elem_type 1, shape 2 { dim 1 { dim_value 1 | dim_param 2 } } } }. */
function writeValueInfo(w: ProtoWriter, v: TestValueInfo): void {
  w.stringField(1, v.name);
  w.messageField(2, (type) =>
    type.messageField(1, (tensor) => {
      tensor.varintField(1, ONNX_TYPE[v.dtype]);
      tensor.messageField(2, (shape) => {
        for (const d of v.shape) shape.messageField(1, (dim) => (typeof d === "number" ? dim.varintField(1, d) : dim.stringField(2, d)));
      });
    }),
  );
}
