import type { DType } from "../../structure/types";

/** Typed TensorProto fields (onnx.proto3 TensorProto) and how their values are encoded. */
export type OnnxTypedField = "float_data" | "int32_data" | "int64_data" | "double_data" | "uint64_data" | "string_data";

export interface OnnxDataType {
  /** TensorProto.DataType number. */
  code: number;
  onnxName: string;
  dtype: DType;
  /** Storage bits per element in raw_data (4 for the packed 4-bit types, 0 for STRING). */
  bits: number;
  /** The typed field that holds this type when raw_data is not used (onnx.proto3 comments). */
  typedField: OnnxTypedField;
  /** Typed-field values per element (complex types store real and imaginary parts). */
  valuesPerElement: number;
}

function t(code: number, onnxName: string, dtype: DType, bits: number, typedField: OnnxTypedField, valuesPerElement = 1): OnnxDataType {
  return { code, onnxName, dtype, bits, typedField, valuesPerElement };
}

/**
 * TensorProto.DataType (onnx/onnx.proto3). Types without a safetensors-style name map to OTHER;
 * FLOAT8 *FNUZ variants keep their own ONNX name but share OTHER so they are never merged with the
 * IEEE-like FN variants. 4-bit types pack two elements per byte in raw_data and per int32_data value.
 */
const TABLE: readonly OnnxDataType[] = [
  t(1, "FLOAT", "F32", 32, "float_data"),
  t(2, "UINT8", "U8", 8, "int32_data"),
  t(3, "INT8", "I8", 8, "int32_data"),
  t(4, "UINT16", "U16", 16, "int32_data"),
  t(5, "INT16", "I16", 16, "int32_data"),
  t(6, "INT32", "I32", 32, "int32_data"),
  t(7, "INT64", "I64", 64, "int64_data"),
  t(8, "STRING", "STRING", 0, "string_data"),
  t(9, "BOOL", "BOOL", 8, "int32_data"),
  t(10, "FLOAT16", "F16", 16, "int32_data"),
  t(11, "DOUBLE", "F64", 64, "double_data"),
  t(12, "UINT32", "U32", 32, "uint64_data"),
  t(13, "UINT64", "U64", 64, "uint64_data"),
  t(14, "COMPLEX64", "C64", 64, "float_data", 2),
  t(15, "COMPLEX128", "C128", 128, "double_data", 2),
  t(16, "BFLOAT16", "BF16", 16, "int32_data"),
  t(17, "FLOAT8E4M3FN", "F8_E4M3", 8, "int32_data"),
  t(18, "FLOAT8E4M3FNUZ", "OTHER", 8, "int32_data"),
  t(19, "FLOAT8E5M2", "F8_E5M2", 8, "int32_data"),
  t(20, "FLOAT8E5M2FNUZ", "OTHER", 8, "int32_data"),
  t(21, "UINT4", "U4", 4, "int32_data"),
  t(22, "INT4", "I4", 4, "int32_data"),
  t(23, "FLOAT4E2M1", "OTHER", 4, "int32_data"),
];

const BY_CODE = new Map(TABLE.map((d) => [d.code, d]));

/** The ONNX data type for a TensorProto.data_type number, or undefined when unknown/UNDEFINED. */
export function onnxDataType(code: number): OnnxDataType | undefined {
  return BY_CODE.get(code);
}

/** Bytes of raw_data for `elements` elements (4-bit types round up: two per byte). */
export function rawByteLength(type: OnnxDataType, elements: number): number {
  return type.bits % 8 === 0 ? elements * (type.bits / 8) : Math.ceil((elements * type.bits) / 8);
}

/** Number of typed-field values for `elements` elements (4-bit types pack two per int32 value). */
export function typedValueCount(type: OnnxDataType, elements: number): number {
  return type.bits === 4 ? Math.ceil(elements / 2) : elements * type.valuesPerElement;
}
