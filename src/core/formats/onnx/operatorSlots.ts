/**
 * Which operator inputs hold weights, quantization data or shapes (ONNX operator docs,
 * https://onnx.ai/onnx/operators/). classifyConstants decides what is a parameter from these slots.
 */

/** Weight slots: a floating constant here is a parameter whatever its size. */
export const WEIGHT_SLOTS: Readonly<Record<string, readonly number[]>> = {
  Conv: [1, 2],
  ConvTranspose: [1, 2],
  Gemm: [1, 2],
  MatMul: [0, 1],
  BatchNormalization: [1, 2, 3, 4],
  InstanceNormalization: [1, 2],
  LayerNormalization: [1, 2],
  GroupNormalization: [1, 2],
  PRelu: [1],
  // Recurrent weights W, R, B.
  LSTM: [1, 2, 3],
  GRU: [1, 2, 3],
  RNN: [1, 2, 3],
};

/** Quantized-weight and quantization-parameter slots: listed, never merged. */
export const QUANT_SLOTS: Readonly<Record<string, readonly number[]>> = {
  ConvInteger: [1, 2, 3],
  MatMulInteger: [0, 1, 2, 3],
  // x_scale 1, x_zero_point 2, w 3, w_scale 4, w_zero_point 5, y_scale 6, y_zero_point 7, B 8
  QLinearConv: [1, 2, 3, 4, 5, 6, 7, 8],
  // a_scale 1, a_zero_point 2, b 3, b_scale 4, b_zero_point 5, y_scale 6, y_zero_point 7
  QLinearMatMul: [1, 2, 3, 4, 5, 6, 7],
  QuantizeLinear: [1, 2],
  DequantizeLinear: [0, 1, 2],
};

/**
 * Inputs a weight passes through unchanged in meaning on its way to its consumer: Cast, Identity
 * and DequantizeLinear chains. QuantizeLinear's input too: a float weight quantized in
 * the graph (QDQ export) still reaches its Conv through QuantizeLinear → DequantizeLinear.
 * For Q/DQ all inputs pass through, so a scale belongs to the layer of the weight it scales.
 */
export const PASS_THROUGH_SLOTS: Readonly<Record<string, readonly number[]>> = {
  Cast: [0],
  Identity: [0],
  DequantizeLinear: [0, 1, 2],
  QuantizeLinear: [0, 1, 2],
};

/** Inputs that take shapes, sizes, axes, indices or scales rather than data. */
export const SHAPE_SLOTS: Readonly<Record<string, readonly number[]>> = {
  Resize: [1, 2, 3],
  Upsample: [1],
  Reshape: [1],
  Expand: [1],
  Tile: [1],
  Pad: [1, 2, 3],
  Slice: [1, 2, 3, 4],
  ConstantOfShape: [0],
  Squeeze: [1],
  Unsqueeze: [1],
  Split: [1],
  ReduceMean: [1],
  ReduceSum: [1],
  ReduceMax: [1],
  ReduceMin: [1],
  ReduceProd: [1],
  ReduceL2: [1],
  TopK: [1],
  Range: [0, 1, 2],
  OneHot: [1],
  CumSum: [1],
  RoiAlign: [2],
  NonMaxSuppression: [2, 3, 4],
  Trilu: [1],
};

/**
 * Operators that compute shapes when their outputs feed only shape slots (the `[1, 1]` and
 * `[4, 4]` concatenated into a Resize's scales).
 */
export const SHAPE_ARITHMETIC = new Set([
  "Concat", "Cast", "Unsqueeze", "Squeeze", "Gather", "Mul", "Add", "Sub", "Div", "Floor", "Ceil",
  "Round", "Identity", "Slice", "Reshape", "Shape", "Max", "Min", "Abs", "Neg", "Sqrt", "Pow",
  "ReduceProd", "ReduceMax", "ReduceMin", "Expand", "Range", "Where", "Equal", "Greater", "Less",
  "Not", "And", "Or", "Size", "ConstantOfShape", "Tile", "Split", "Flatten",
]);

export function slotsOf(table: Readonly<Record<string, readonly number[]>>, opType: string, domain: string): readonly number[] {
  if (domain !== "" && domain !== "ai.onnx") return NONE;
  return Object.prototype.hasOwnProperty.call(table, opType) ? table[opType] : NONE;
}

const NONE: readonly number[] = [];
