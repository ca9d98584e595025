import type { OnnxDataType, OnnxTypedField } from "./onnxDataType";

/**
 * What the ONNX walk (readOnnxModel) finds, with the byte positions the rewriter needs. Internal
 * to formats/onnx: the rest of the system sees ParsedModel.
 */

/** A length-delimited field: its tag, its length prefix and its payload. */
export interface LenSpan {
  tagOffset: number;
  prefixOffset: number;
  offset: number;
  length: number;
}

/** A byte range [start, end) of the file. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface TypedRange {
  /** Packed: the payload; unpacked: a run of consecutive (tag, value) records of the field. */
  offset: number;
  length: number;
  packed: boolean;
  /** Packed ranges: offset of the payload's length prefix (rewritten when the payload's size changes). */
  prefixOffset: number;
  /** Values in this range. */
  count: number;
}

export type OnnxTensorData =
  | { kind: "raw"; offset: number; length: number }
  | { kind: "typed"; field: Exclude<OnnxTypedField, "string_data">; encoding: "fixed32" | "fixed64" | "varint"; ranges: TypedRange[]; count: number }
  | {
      kind: "external";
      location: string;
      offset: number;
      /** Undefined when the `length` key is absent: the data runs to the end of the file. */
      length: number | undefined;
      /** The external_data and data_location fields, removed when the rewriter inlines the data. */
      fields: ByteRange[];
    }
  /** string_data, or no data at all for an empty tensor: nothing to locate or merge. */
  | { kind: "none" };

export interface OnnxTensorRecord {
  /** Initializer name, or the Constant node's output name. */
  name: string;
  dims: number[];
  type: OnnxDataType;
  elements: number;
  origin: "initializer" | "constant";
  /** Index of the Constant node in the graph's node list (origin "constant"). */
  nodeIndex?: number;
  /**
   * The length-delimited fields enclosing the TensorProto, outermost first, ending with the field
   * that holds the TensorProto itself: [graph, initializer] or [graph, node, attribute, t].
   */
  ancestry: LenSpan[];
  data: OnnxTensorData;
}

export interface OnnxNodeRecord {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  /**
   * The attributes as canonical text, sorted by name, values included (main graph only): what
   * positional keys read of an operator besides its type and inputs.
   */
  attributes?: string;
  /** Graph-valued attributes (If branches, Loop / Scan bodies), for name resolution only. */
  subgraphs?: OnnxSubgraphRecord[];
}

/** A graph nested in a node's attribute: only what name resolution needs (its tensors are not listed). */
export interface OnnxSubgraphRecord {
  /** The attribute holding it: `then_branch`, `body`… */
  attribute: string;
  /** Names it defines besides its nodes' outputs: its initializers (dense and sparse) and inputs. */
  defined: string[];
  nodes: OnnxNodeRecord[];
}

export interface OnnxValueInfo {
  name: string;
  /** ONNX element type name (FLOAT…), or the kind of a non-tensor type. */
  elemType: string;
  /** Dims: numbers, symbolic names, or null when unknown; undefined when the rank is unknown. */
  shape?: Array<number | string | null>;
}

export interface OnnxMetadataEntry {
  key: string;
  value: string;
  /** The whole ModelProto.metadata_props field (the rewriter replaces entries by key). */
  range: ByteRange;
}

export interface OnnxModelRecord {
  irVersion: number;
  opset: Array<{ domain: string; version: number }>;
  producerName: string;
  producerVersion: string;
  graphName: string;
  metadataProps: OnnxMetadataEntry[];
  nodes: OnnxNodeRecord[];
  /** Initializers and Constant-node `value` tensors, in file order. */
  tensors: OnnxTensorRecord[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  /** Graph-valued attributes (If / Loop / Scan bodies); their tensors are not listed. */
  subgraphCount: number;
}
