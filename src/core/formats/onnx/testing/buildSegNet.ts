import type { DType } from "../../../structure/types";
import { bfloat16BitsToFloat, float32ToBfloat16Bits, float32ToHalfBits, halfBitsToFloat } from "./float16";
import { type TestDType, type TestEncoding, type TestModel, type TestNode, type TestTensor, writeOnnxModel, type WrittenModel } from "./onnxModelWriter";
import { prng } from "../../../testing/prng";

export interface SegNetOptions {
  inChannels?: number;
  classes?: number;
  width?: number;
  /** Input height and width (even). */
  size?: number;
  /** A: decode_head.conv_seg only. B: decode_head.conv1 (width → 2·width) + conv_seg. The backbone is the same. */
  heads?: "A" | "B";
  /** F16: every floating tensor fp16 except Resize scales; Casts at the graph's input and output. */
  dtype?: "F32" | "F16";
  /** Where tensors live: graph initializers, or Constant nodes at the start of the node list. */
  constants?: "initializer" | "constant";
  encoding?: TestEncoding;
  /** unsorted: the Cast nodes (fp16) or, without Casts, the stem Conv are moved to the end. */
  nodeOrder?: "sorted" | "unsorted";
  /** layer1's weight as int8 + DequantizeLinear; the head as ConvInteger (F32 only). */
  quantized?: boolean;
  /** Conv biases named as TorchScript's exporter names them (`onnx::Conv_101`). */
  generatedNames?: boolean;
  seed?: number;
  /** Name of the external data file (encoding "external"). */
  externalFileName?: string;
}

export interface ExpectedTensor {
  name: string;
  shape: number[];
  dtype: DType;
  mergeable: boolean;
  layerIndex: number;
  group: string;
  /** Values as stored (rounded to the dtype). */
  values: number[];
}

/** What the builder knows about the net it wrote, stated independently of any reader. */
export interface SegNetDescription {
  /** Listed tensors in reader order: by layer, then file order. */
  tensors: ExpectedTensor[];
  layerCount: number;
  /** Elements of the mergeable tensors. */
  parameterCount: number;
  generatedNameCount: number;
  /** Constant tensors that are not parameters (Resize scales, a scalar multiplier). */
  unlisted: string[];
  inputName: string;
  inputShape: Array<number | string>;
  outputName: string;
  outputShape: Array<number | string>;
  nodeCount: number;
}

export interface SegNet extends WrittenModel {
  model: TestModel;
  description: SegNetDescription;
}

function stored(dtype: TestDType, v: number): number {
  if (dtype === "F32") return Math.fround(v);
  if (dtype === "F16") return halfBitsToFloat(float32ToHalfBits(v));
  if (dtype === "BF16") return bfloat16BitsToFloat(float32ToBfloat16Bits(v));
  return v;
}

/**
 * A small segmentation net that onnxruntime runs, for tests of parsing, merging and evaluating:
 * stem Conv → Relu → Conv → Relu → residual Add → per-channel scale (a parameter outside weight
 * slots) → scalar Mul (not a parameter) → head → Resize ×2 with scales concatenated from [1, 1]
 * and [2, 2] (not parameters).
 */
export function buildSegNet(options: SegNetOptions = {}): SegNet {
  const o = {
    inChannels: 3, classes: 4, width: 8, size: 16, heads: "A" as const, dtype: "F32" as const, constants: "initializer" as const,
    encoding: "raw" as const, nodeOrder: "sorted" as const, quantized: false, generatedNames: false, seed: 1, ...options,
  };
  if (o.quantized && o.dtype !== "F32") throw new Error("buildSegNet: the quantized variant is F32");
  if (o.encoding === "external" && o.constants === "constant") throw new Error("buildSegNet: external data is for initializers");
  const random = prng(o.seed);
  const f = o.dtype;
  const tensors: TestTensor[] = [];
  const expected: ExpectedTensor[] = [];
  const unlisted: string[] = [];
  let layer = -1;
  let generatedCounter = 100;

  const add = (name: string, dtype: TestDType, dims: number[], values: number[], role: "param" | "quant" | "unlisted", group?: string): string => {
    tensors.push({ name, dtype, dims, values, encoding: o.encoding });
    const elements = dims.reduce((a, b) => a * b, 1);
    if (values.length !== elements) throw new Error(`buildSegNet: ${name} has ${values.length} values for ${elements} elements`);
    if (role === "unlisted") unlisted.push(name);
    else {
      expected.push({
        name, shape: dims, dtype: dtype as DType, mergeable: role === "param", layerIndex: layer,
        group: group ?? name.split(".")[0], values: values.map((v) => stored(dtype, v)),
      });
    }
    return name;
  };
  const randomValues = (n: number, scale: number) => Array.from({ length: n }, () => (random() - 0.5) * scale);
  const biasName = (name: string) => (o.generatedNames ? `onnx::Conv_${generatedCounter++}` : name);
  const biasGroup = (name: string) => (o.generatedNames ? "(generated)" : name.split(".")[0]);

  const nodes: TestNode[] = [];
  const conv = (name: string, x: string, out: string, cin: number, cout: number, k: number, stride = 1) => {
    layer++;
    const w = add(`${name}.weight`, f, [cout, cin, k, k], randomValues(cout * cin * k * k, 2 / Math.sqrt(cin * k * k)), "param");
    const bName = biasName(`${name}.bias`);
    const b = add(bName, f, [cout], randomValues(cout, 0.2), "param", biasGroup(bName));
    nodes.push({ opType: "Conv", name, inputs: [x, w, b], outputs: [out], attributes: [{ name: "kernel_shape", ints: [k, k] }, { name: "pads", ints: Array(4).fill((k - 1) / 2) }, { name: "strides", ints: [stride, stride] }] });
  };

  const { inChannels: cin, width, classes, size } = o;
  let x = "image";
  if (f === "F16") {
    nodes.push({ opType: "Cast", name: "cast_input", inputs: ["image"], outputs: ["image_f16"], attributes: [{ name: "to", int: 10 }] });
    x = "image_f16";
  }
  conv("backbone.stem.conv", x, "stem_out", cin, width, 3, 2);
  nodes.push({ opType: "Relu", name: "stem_relu", inputs: ["stem_out"], outputs: ["stem_relu"] });

  if (o.quantized) {
    layer++;
    const n = width * width * 9;
    const wq = add("backbone.layer1.conv.weight_quantized", "I8", [width, width, 3, 3], Array.from({ length: n }, () => Math.round((random() - 0.5) * 200) + 0), "quant");
    const ws = add("backbone.layer1.conv.weight_scale", "F32", [], [0.004], "quant");
    const wz = add("backbone.layer1.conv.weight_zero_point", "I8", [], [0], "quant");
    const b = add("backbone.layer1.conv.bias", "F32", [width], randomValues(width, 0.2), "param");
    nodes.push({ opType: "DequantizeLinear", name: "layer1_dq", inputs: [wq, ws, wz], outputs: ["backbone.layer1.conv.weight_dq"] });
    nodes.push({ opType: "Conv", name: "backbone.layer1.conv", inputs: ["stem_relu", "backbone.layer1.conv.weight_dq", b], outputs: ["layer1_out"], attributes: [{ name: "kernel_shape", ints: [3, 3] }, { name: "pads", ints: [1, 1, 1, 1] }] });
  } else {
    conv("backbone.layer1.conv", "stem_relu", "layer1_out", width, width, 3);
  }
  nodes.push({ opType: "Relu", name: "layer1_relu", inputs: ["layer1_out"], outputs: ["layer1_relu"] });
  nodes.push({ opType: "Add", name: "residual", inputs: ["layer1_relu", "stem_relu"], outputs: ["residual"] });
  layer++;
  const gamma = add("backbone.layer1.gamma", f, [1, width, 1, 1], randomValues(width, 0.5).map((v) => 1 + v), "param");
  nodes.push({ opType: "Mul", name: "layer1_scale", inputs: ["residual", gamma], outputs: ["scaled"] });
  const half = add("backbone.layer1.half", f, [], [0.5], "unlisted");
  nodes.push({ opType: "Mul", name: "halve", inputs: ["scaled", half], outputs: ["features"] });

  let headIn = "features";
  let headWidth = width;
  if (o.heads === "B") {
    conv("decode_head.conv1", "features", "head1_out", width, 2 * width, 3);
    nodes.push({ opType: "Relu", name: "head1_relu", inputs: ["head1_out"], outputs: ["head1_relu"] });
    headIn = "head1_relu";
    headWidth = 2 * width;
  }
  if (o.quantized) {
    layer++;
    const wq = add("decode_head.conv_seg.weight_quantized", "U8", [classes, headWidth, 1, 1], Array.from({ length: classes * headWidth }, () => Math.floor(random() * 256)), "quant");
    const wz = add("decode_head.conv_seg.weight_zero_point", "U8", [], [128], "quant");
    const ws = add("decode_head.conv_seg.weight_scale", "F32", [], [0.01], "unlisted");
    nodes.push({ opType: "DynamicQuantizeLinear", name: "head_quantize", inputs: [headIn], outputs: ["head_q", "head_q_scale", "head_q_zero_point"] });
    nodes.push({ opType: "ConvInteger", name: "decode_head.conv_seg", inputs: ["head_q", wq, "head_q_zero_point", wz], outputs: ["seg_int"] });
    nodes.push({ opType: "Cast", name: "seg_float", inputs: ["seg_int"], outputs: ["seg_float"], attributes: [{ name: "to", int: 1 }] });
    nodes.push({ opType: "Mul", name: "seg_rescale_x", inputs: ["seg_float", "head_q_scale"], outputs: ["seg_rescaled_x"] });
    nodes.push({ opType: "Mul", name: "seg_rescale_w", inputs: ["seg_rescaled_x", ws], outputs: ["seg_rescaled"] });
    layer++;
    const b = add("decode_head.conv_seg.bias", "F32", [1, classes, 1, 1], randomValues(classes, 0.2), "param");
    nodes.push({ opType: "Add", name: "seg_bias", inputs: ["seg_rescaled", b], outputs: ["seg"] });
  } else {
    conv("decode_head.conv_seg", headIn, "seg", headWidth, classes, 1);
  }
  const nc = add("resize_scales_nc", "F32", [2], [1, 1], "unlisted");
  const hw = add("resize_scales_hw", "F32", [2], [2, 2], "unlisted");
  nodes.push({ opType: "Concat", name: "resize_scales", inputs: [nc, hw], outputs: ["resize_scales"], attributes: [{ name: "axis", int: 0 }] });
  const resized = f === "F16" ? "logits_f16" : "logits";
  nodes.push({ opType: "Resize", name: "upsample", inputs: ["seg", "", "resize_scales"], outputs: [resized], attributes: [{ name: "mode", string: "nearest" }] });
  if (f === "F16") nodes.push({ opType: "Cast", name: "cast_output", inputs: ["logits_f16"], outputs: ["logits"], attributes: [{ name: "to", int: 1 }] });

  let ordered = nodes;
  if (o.nodeOrder === "unsorted") {
    const moved = nodes.some((n) => n.opType === "Cast") ? nodes.filter((n) => n.opType === "Cast") : [nodes[0]];
    ordered = [...nodes.filter((n) => !moved.includes(n)), ...moved];
  }
  let initializers = tensors;
  if (o.constants === "constant") {
    ordered = [...tensors.map((t): TestNode => ({ opType: "Constant", name: `const_${t.name}`, inputs: [], outputs: [t.name], attributes: [{ name: "value", tensor: t }] })), ...ordered];
    initializers = [];
  }
  const model: TestModel = {
    producerName: "layermerge-test-writer",
    producerVersion: "1",
    graphName: `segnet_${o.heads}`,
    inputs: [{ name: "image", dtype: "F32", shape: ["N", cin, size, size] }],
    outputs: [{ name: "logits", dtype: "F32", shape: ["N", classes, size, size] }],
    nodes: ordered,
    initializers,
    externalFileName: o.externalFileName,
  };
  const listed = [...expected].sort((a, b) => a.layerIndex - b.layerIndex);
  return {
    ...writeOnnxModel(model),
    model,
    description: {
      tensors: listed,
      layerCount: layer + 1,
      parameterCount: listed.filter((t) => t.mergeable).reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0),
      generatedNameCount: listed.filter((t) => t.name.startsWith("onnx::")).length,
      unlisted,
      inputName: "image",
      inputShape: ["N", cin, size, size],
      outputName: "logits",
      outputShape: ["N", classes, size, size],
      nodeCount: ordered.length,
    },
  };
}
