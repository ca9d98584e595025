import { badInput } from "../../errors";
import type { ByteSource } from "../byteSource";
import { ProtoReader, type ProtoField } from "../protobuf/protoReader";
import { onnxDataType } from "./onnxDataType";
import type { LenSpan, OnnxModelRecord, OnnxNodeRecord, OnnxSubgraphRecord, OnnxValueInfo } from "./onnxModelRecord";
import { expectWire, readStringEntry, readTensorProto } from "./readTensorProto";

/** Field numbers from onnx/onnx.proto3. */
const MODEL = { irVersion: 1, producerName: 2, producerVersion: 3, graph: 7, opsetImport: 8, metadataProps: 14 } as const;
const GRAPH = { node: 1, name: 2, initializer: 5, input: 11, output: 12, sparseInitializer: 15 } as const;
const NODE = { input: 1, output: 2, name: 3, opType: 4, attribute: 5, domain: 7 } as const;
const ATTRIBUTE = { name: 1, t: 5, g: 6, graphs: 11, sparseTensor: 22 } as const;
const TENSOR_NAME = 8;
const SPARSE_VALUES = 1;

/**
 * Subgraphs nest inside subgraphs; real models go a few levels deep. The bound keeps a crafted
 * file from recursing without end (each level costs only a few bytes).
 */
const MAX_SUBGRAPH_DEPTH = 32;

/**
 * Walks a ModelProto down to the TensorProto headers, recording names, shapes, data locations
 * and the byte spans the rewriter needs. Nesting is fixed (model → graph → node → attribute →
 * tensor). Subgraph bodies (If / Loop / Scan) are entered only for the names they define and use,
 * to MAX_SUBGRAPH_DEPTH levels.
 */
export function readOnnxModel(source: ByteSource): OnnxModelRecord {
  if (source.size === 0) throw badInput("the file is empty; expected an ONNX model");
  const r = new ProtoReader(source, 0, source.size, "ONNX model");
  const model: OnnxModelRecord = {
    irVersion: 0, opset: [], producerName: "", producerVersion: "", graphName: "", metadataProps: [],
    nodes: [], tensors: [], inputs: [], outputs: [], subgraphCount: 0,
  };
  let graph: ProtoField | undefined;
  for (let f = r.next(); f; f = r.next()) {
    switch (f.fieldNumber) {
      case MODEL.irVersion:
        expectWire(f, 0, "ModelProto", "ir_version");
        model.irVersion = f.value;
        break;
      case MODEL.producerName:
        model.producerName = r.string(f);
        break;
      case MODEL.producerVersion:
        model.producerVersion = r.string(f);
        break;
      case MODEL.graph:
        expectWire(f, 2, "ModelProto", "graph");
        if (graph) throw badInput("the ONNX model has two graph fields");
        graph = f;
        break;
      case MODEL.opsetImport:
        expectWire(f, 2, "ModelProto", "opset_import");
        model.opset.push(readOpset(r, f));
        break;
      case MODEL.metadataProps: {
        expectWire(f, 2, "ModelProto", "metadata_props");
        const [key, value] = readStringEntry(r, f, "ModelProto metadata_props");
        model.metadataProps.push({ key, value, range: { start: f.tagOffset, end: f.end } });
        break;
      }
    }
  }
  // A file of random bytes can parse as a few unknown fields; a model has a graph and an IR version.
  if (!graph) throw badInput("not an ONNX model: no graph (ModelProto field 7) found");
  if (model.irVersion <= 0) throw badInput("not an ONNX model: no ir_version (ModelProto field 1)");
  readGraph(r, graph, model);
  return model;
}

function readOpset(r: ProtoReader, f: ProtoField): { domain: string; version: number } {
  const inner = r.sub(f, "OperatorSetIdProto");
  let domain = "";
  let version = 0;
  for (let g = inner.next(); g; g = inner.next()) {
    if (g.fieldNumber === 1) domain = inner.string(g);
    else if (g.fieldNumber === 2) {
      expectWire(g, 0, "OperatorSetIdProto", "version");
      version = g.value;
    }
  }
  return { domain, version };
}

function span(f: ProtoField): LenSpan {
  return { tagOffset: f.tagOffset, prefixOffset: f.prefixOffset, offset: f.offset, length: f.length };
}

function readGraph(parent: ProtoReader, graphField: ProtoField, model: OnnxModelRecord): void {
  const r = parent.sub(graphField, "GraphProto");
  const graphSpan = span(graphField);
  for (let f = r.next(); f; f = r.next()) {
    switch (f.fieldNumber) {
      case GRAPH.node:
        expectWire(f, 2, "GraphProto", "node");
        model.nodes.push(readNode(r, f, model, [graphSpan, span(f)]));
        break;
      case GRAPH.name:
        model.graphName = r.string(f);
        break;
      case GRAPH.initializer:
        expectWire(f, 2, "GraphProto", "initializer");
        model.tensors.push(readTensorProto(r, f, { origin: "initializer", ancestry: [graphSpan, span(f)] }));
        break;
      case GRAPH.input:
        expectWire(f, 2, "GraphProto", "input");
        model.inputs.push(readValueInfo(r, f));
        break;
      case GRAPH.output:
        expectWire(f, 2, "GraphProto", "output");
        model.outputs.push(readValueInfo(r, f));
        break;
      case GRAPH.sparseInitializer:
        throw badInput(`the model has a sparse initializer (${sparseName(r, f)}); sparse tensors are not supported — densify it before registering`);
    }
  }
}

function readNode(parent: ProtoReader, nodeField: ProtoField, model: OnnxModelRecord, ancestry: LenSpan[]): OnnxNodeRecord {
  const index = model.nodes.length;
  const r = parent.sub(nodeField, `NodeProto #${index}`);
  const node: OnnxNodeRecord = { name: "", opType: "", domain: "", inputs: [], outputs: [] };
  const attributes: ProtoField[] = [];
  for (let f = r.next(); f; f = r.next()) {
    switch (f.fieldNumber) {
      case NODE.input:
        node.inputs.push(r.string(f));
        break;
      case NODE.output:
        node.outputs.push(r.string(f));
        break;
      case NODE.name:
        node.name = r.string(f);
        break;
      case NODE.opType:
        node.opType = r.string(f);
        break;
      case NODE.domain:
        node.domain = r.string(f);
        break;
      case NODE.attribute:
        expectWire(f, 2, `NodeProto #${index}`, "attribute");
        attributes.push(f);
        break;
    }
  }
  const isConstant = node.opType === "Constant" && (node.domain === "" || node.domain === "ai.onnx");
  const label = `${node.opType || "node"} node ${JSON.stringify(node.name || node.outputs[0] || `#${index}`)}`;
  const signatures = attributes.map((a) => readAttribute(r, a, { node, index, isConstant, label, model, ancestry: [...ancestry, span(a)] }));
  node.attributes = signatures.sort().join(";");
  return node;
}

interface AttributeContext {
  node: OnnxNodeRecord;
  index: number;
  isConstant: boolean;
  label: string;
  model: OnnxModelRecord;
  ancestry: LenSpan[];
}

/** Returns the attribute's canonical text (see `attributeValueText`) for positional keys. */
function readAttribute(parent: ProtoReader, attrField: ProtoField, c: AttributeContext): string {
  const r = parent.sub(attrField, `attribute of ${c.label}`);
  let name = "";
  let tensor: ProtoField | undefined;
  const graphs: ProtoField[] = [];
  const value: string[] = [];
  for (let f = r.next(); f; f = r.next()) {
    if (f.fieldNumber !== ATTRIBUTE.name) value.push(attributeValueText(r, f, c.isConstant));
    if (f.fieldNumber === ATTRIBUTE.name) name = r.string(f);
    else if (f.fieldNumber === ATTRIBUTE.t) {
      expectWire(f, 2, `attribute of ${c.label}`, "t");
      tensor = f;
    } else if (f.fieldNumber === ATTRIBUTE.g || f.fieldNumber === ATTRIBUTE.graphs) {
      expectWire(f, 2, `attribute of ${c.label}`, f.fieldNumber === ATTRIBUTE.g ? "g" : "graphs");
      c.model.subgraphCount++;
      graphs.push(f);
    } else if (f.fieldNumber === ATTRIBUTE.sparseTensor && c.isConstant) {
      throw badInput(`${c.label} holds a sparse tensor; sparse tensors are not supported — densify it before registering`);
    }
  }
  for (const g of graphs) (c.node.subgraphs ??= []).push(readSubgraph(r, g, name, c.label, 1));
  // Exporters such as Paddle2ONNX keep weights in Constant nodes: the value is named by the output.
  if (c.isConstant && name === "value" && tensor) {
    const output = c.node.outputs[0];
    if (!output) throw badInput(`${c.label} has a value but no output to name it`);
    c.model.tensors.push(readTensorProto(r, tensor, { name: output, origin: "constant", nodeIndex: c.index, ancestry: c.ancestry.concat(span(tensor)) }));
  }
  return `${JSON.stringify(name)}=${value.join(",")}`;
}

/** Larger attribute payloads are summarized by their length (no real operator attribute is that big). */
const ATTRIBUTE_TEXT_BYTES = 4096;

/**
 * One field of an AttributeProto as text: numbers, strings and small tensors by value. Left out:
 * the doc string, graph bodies (their value names differ between exports; marked "g") and a
 * Constant node's tensor (a constant is keyed by its dtype and shape, never by its values).
 */
function attributeValueText(r: ProtoReader, f: ProtoField, isConstant: boolean): string {
  const DOC_STRING = 13;
  const TENSORS = 10;
  if (f.fieldNumber === DOC_STRING) return "";
  if (f.fieldNumber === ATTRIBUTE.g || f.fieldNumber === ATTRIBUTE.graphs) return `${f.fieldNumber}:g`;
  if (isConstant && (f.fieldNumber === ATTRIBUTE.t || f.fieldNumber === TENSORS)) return `${f.fieldNumber}:t`;
  if (f.wireType === 0) return `${f.fieldNumber}:${f.value}`;
  if (f.length > ATTRIBUTE_TEXT_BYTES) return `${f.fieldNumber}:#${f.length}`;
  return `${f.fieldNumber}:${Buffer.from(r.bytes(f)).toString("hex")}`;
}

/** A nested graph, read for the names it defines (initializers, inputs) and its nodes. */
function readSubgraph(parent: ProtoReader, f: ProtoField, attribute: string, owner: string, depth: number): OnnxSubgraphRecord {
  const where = `subgraph ${JSON.stringify(attribute)} of ${owner}`;
  if (depth > MAX_SUBGRAPH_DEPTH) throw badInput(`${where} is nested more than ${MAX_SUBGRAPH_DEPTH} subgraphs deep`);
  const r = parent.sub(f, `GraphProto (${where})`);
  const graph: OnnxSubgraphRecord = { attribute, defined: [], nodes: [] };
  for (let g = r.next(); g; g = r.next()) {
    switch (g.fieldNumber) {
      case GRAPH.node:
        expectWire(g, 2, `GraphProto (${where})`, "node");
        graph.nodes.push(readSubgraphNode(r, g, graph.nodes.length, where, depth));
        break;
      case GRAPH.initializer:
        expectWire(g, 2, `GraphProto (${where})`, "initializer");
        graph.defined.push(tensorName(r, g, `TensorProto (${where})`));
        break;
      case GRAPH.sparseInitializer: {
        expectWire(g, 2, `GraphProto (${where})`, "sparse_initializer");
        const s = r.sub(g, `SparseTensorProto (${where})`);
        for (let h = s.next(); h; h = s.next()) {
          if (h.fieldNumber !== SPARSE_VALUES) continue;
          expectWire(h, 2, `SparseTensorProto (${where})`, "values");
          graph.defined.push(tensorName(s, h, `TensorProto (${where})`));
        }
        break;
      }
      case GRAPH.input:
        expectWire(g, 2, `GraphProto (${where})`, "input");
        graph.defined.push(readValueInfo(r, g).name);
        break;
    }
  }
  return graph;
}

function readSubgraphNode(parent: ProtoReader, nodeField: ProtoField, index: number, where: string, depth: number): OnnxNodeRecord {
  const what = `NodeProto #${index} of ${where}`;
  const r = parent.sub(nodeField, what);
  const node: OnnxNodeRecord = { name: "", opType: "", domain: "", inputs: [], outputs: [] };
  const attributes: ProtoField[] = [];
  for (let f = r.next(); f; f = r.next()) {
    switch (f.fieldNumber) {
      case NODE.input: node.inputs.push(r.string(f)); break;
      case NODE.output: node.outputs.push(r.string(f)); break;
      case NODE.name: node.name = r.string(f); break;
      case NODE.opType: node.opType = r.string(f); break;
      case NODE.domain: node.domain = r.string(f); break;
      case NODE.attribute:
        expectWire(f, 2, what, "attribute");
        attributes.push(f);
        break;
    }
  }
  const label = `${node.opType || "node"} node ${JSON.stringify(node.name || node.outputs[0] || `#${index}`)} in ${where}`;
  for (const a of attributes) {
    const ar = r.sub(a, `attribute of ${label}`);
    let name = "";
    const graphs: ProtoField[] = [];
    for (let f = ar.next(); f; f = ar.next()) {
      if (f.fieldNumber === ATTRIBUTE.name) name = ar.string(f);
      else if (f.fieldNumber === ATTRIBUTE.g || f.fieldNumber === ATTRIBUTE.graphs) {
        expectWire(f, 2, `attribute of ${label}`, f.fieldNumber === ATTRIBUTE.g ? "g" : "graphs");
        graphs.push(f);
      }
    }
    for (const g of graphs) (node.subgraphs ??= []).push(readSubgraph(ar, g, name, label, depth + 1));
  }
  return node;
}

function tensorName(parent: ProtoReader, f: ProtoField, what: string): string {
  const t = parent.sub(f, what);
  let name = "";
  for (let g = t.next(); g; g = t.next()) if (g.fieldNumber === TENSOR_NAME) name = t.string(g);
  return name;
}

function readValueInfo(parent: ProtoReader, f: ProtoField): OnnxValueInfo {
  const r = parent.sub(f, "ValueInfoProto");
  const info: OnnxValueInfo = { name: "", elemType: "UNKNOWN" };
  for (let g = r.next(); g; g = r.next()) {
    if (g.fieldNumber === 1) info.name = r.string(g);
    else if (g.fieldNumber === 2 && g.wireType === 2) readType(r.sub(g, `type of "${info.name}"`), info);
  }
  return info;
}

/** TypeProto: tensor_type 1 { elem_type 1, shape 2 { dim 1 { dim_value 1 | dim_param 2 } } }. */
function readType(r: ProtoReader, info: OnnxValueInfo): void {
  const kinds: Record<number, string> = { 4: "SEQUENCE", 5: "MAP", 8: "SPARSE_TENSOR", 9: "OPTIONAL" };
  for (let f = r.next(); f; f = r.next()) {
    if (f.fieldNumber !== 1) {
      if (kinds[f.fieldNumber]) info.elemType = kinds[f.fieldNumber];
      continue;
    }
    if (f.wireType !== 2) continue;
    const t = r.sub(f, "TypeProto.Tensor");
    for (let g = t.next(); g; g = t.next()) {
      if (g.fieldNumber === 1 && g.wireType === 0) info.elemType = onnxDataType(g.value)?.onnxName ?? `TYPE_${g.value}`;
      else if (g.fieldNumber === 2 && g.wireType === 2) {
        info.shape = [];
        const s = t.sub(g, "TensorShapeProto");
        for (let d = s.next(); d; d = s.next()) {
          if (d.fieldNumber !== 1 || d.wireType !== 2) continue;
          let dim: number | string | null = null;
          const dr = s.sub(d, "TensorShapeProto.Dimension");
          for (let e = dr.next(); e; e = dr.next()) {
            if (e.fieldNumber === 1 && e.wireType === 0) dim = e.value;
            else if (e.fieldNumber === 2 && e.wireType === 2) dim = dr.string(e);
          }
          info.shape.push(dim);
        }
      }
    }
  }
}

function sparseName(r: ProtoReader, f: ProtoField): string {
  // SparseTensorProto: values 1 (a TensorProto whose name 8 is the sparse tensor's name).
  try {
    const s = r.sub(f, "SparseTensorProto");
    for (let g = s.next(); g; g = s.next()) {
      if (g.fieldNumber !== 1 || g.wireType !== 2) continue;
      const v = s.sub(g, "TensorProto");
      for (let h = v.next(); h; h = v.next()) if (h.fieldNumber === 8) return JSON.stringify(v.string(h));
    }
  } catch {
    // the name is only for the message; the rejection stands either way
  }
  return "unnamed";
}
