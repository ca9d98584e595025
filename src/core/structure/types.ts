/**
 * The format-independent description of a model's parameter structure, produced by the format
 * readers (formats/onnx, formats/safetensors, formats/pytorch) and consumed by fingerprints, overlap and merge.
 */

/** Canonical dtype names (safetensors' spelling). Only the four floating ones are mergeable. */
export type DType =
  | "F64" | "F32" | "F16" | "BF16"
  | "I64" | "I32" | "I16" | "I8" | "U64" | "U32" | "U16" | "U8" | "BOOL"
  | "F8_E4M3" | "F8_E5M2" | "I4" | "U4" | "C64" | "C128" | "STRING" | "OTHER";

export const FLOATING_DTYPES: ReadonlySet<DType> = new Set<DType>(["F64", "F32", "F16", "BF16"]);

export function isFloating(dtype: DType): boolean {
  return FLOATING_DTYPES.has(dtype);
}

/** Bytes per element; 0 for types without a fixed width (STRING) and sub-byte types. */
export const DTYPE_BYTES: Readonly<Record<DType, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2,
  I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
  F8_E4M3: 1, F8_E5M2: 1, I4: 0, U4: 0, C64: 8, C128: 16, STRING: 0, OTHER: 0,
};

/**
 * Where a tensor's bytes are. Offsets are absolute byte offsets in the artifact file (or in the
 * named external-data file, relative to the model's folder), so data is read by range, never
 * copied at parse time.
 */
export type TensorLocation =
  /** Contiguous little-endian bytes of the tensor's dtype (ONNX raw_data, safetensors data). */
  | { kind: "raw"; file?: string; offset: number; length: number }
  /**
   * ONNX typed fields (float_data, int32_data, double_data, int64_data…): a packed or unpacked
   * repeated field at [offset, offset+length) in the file holding `count` values encoded as
   * `encoding` (fixed32 floats, fixed64 doubles, varint int32 holding fp16/bf16 bits, varint int64).
   */
  | { kind: "typed"; field: "float_data" | "double_data" | "int32_data" | "int64_data" | "uint64_data"; encoding: "fixed32" | "fixed64" | "varint"; ranges: Array<{ offset: number; length: number; packed: boolean }>; count: number };

export interface TensorInfo {
  /** Parameter name (an ONNX initializer name, a Constant's output name, a safetensors key). */
  name: string;
  shape: number[];
  dtype: DType;
  /** Element count (product of shape; 1 for a scalar). */
  elements: number;
  /** True for floating parameters; integer and quantized tensors are listed but never merged. */
  mergeable: boolean;
  /** Rank of the layer (operator / module) that consumes it, in forward order; 0-based. */
  layerIndex: number;
  /** Module prefix used for per-group counts: the first component of the module path. */
  group: string;
  /**
   * Where the tensor sits in the graph, independent of names (structure/positionalKeys): equal
   * keys in two models mean the same place in the same upstream structure. Graph formats only.
   */
  positionKey?: string;
  location: TensorLocation;
}

export type LayerOrderSource =
  /** ONNX: topological order of the graph's nodes (repaired when the node list is unsorted). */
  | "GRAPH"
  /** safetensors: order of the first tensor of each module in the file. */
  | "STORAGE_ORDER"
  /** safetensors written name-sorted (the official writer): numeric-aware sort of module names. */
  | "NAME_SORTED"
  /** PyTorch checkpoint: the order of the first tensor of each module in the state dict (pickle keeps it). */
  | "STATE_DICT"
  /** Given at registration (a list of module prefixes or another model's order). */
  | "GIVEN";

/** The model file formats, detected from the bytes. */
export const MODEL_FORMATS = ["onnx", "safetensors", "pytorch"] as const;
export type ModelFormat = (typeof MODEL_FORMATS)[number];

export interface ParsedModel {
  format: ModelFormat;
  /** Every listed tensor, ordered by layerIndex then position in the file. */
  tensors: TensorInfo[];
  /** L: the number of layers (operators/modules that consume parameters). */
  layerCount: number;
  layerOrderSource: LayerOrderSource;
  /** Names an exporter generated (`onnx::Conv_1897`): matching by name is unreliable for them. */
  generatedNameCount: number;
  /** Format metadata for display (opset, producer, graph inputs/outputs, safetensors __metadata__). */
  metadata: Record<string, unknown>;
}
