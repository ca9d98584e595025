import { mkdirSync, writeFileSync } from "fs";
import { dirname, join } from "path";
import sharp from "sharp";
import { type TestModel, type TestNode, type TestTensor, writeOnnxModel } from "../../core/formats/onnx/testing/onnxModelWriter";

/**
 * Tiny datasets and ONNX models for runtime tests and the benchmark, whose predictions follow from
 * the pixels drawn (so expected metrics can be worked out by hand).
 */

/** Writes an 8-bit PNG: 3 channels (RGB) or 1 (greyscale, exact values, for labels). */
export async function writePng(path: string, width: number, height: number, channels: 1 | 3, values: ArrayLike<number>): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  const img = sharp(Buffer.from(Uint8Array.from(values)), { raw: { width, height, channels } });
  await (channels === 1 ? img.toColourspace("b-w") : img).png({ compressionLevel: 1 }).toFile(path);
}

export const RED = [255, 0, 0] as const;
export const GREEN = [0, 255, 0] as const;
export const BLUE = [0, 0, 255] as const;
const COLOURS = [RED, GREEN, BLUE];

/** An RGB image (HWC) from a map of colour indices 0 red, 1 green, 2 blue, each cell `block` pixels square. */
export function blockImage(cells: readonly (readonly number[])[], block: number): { width: number; height: number; rgb: number[]; classes: number[] } {
  const height = cells.length * block;
  const width = cells[0].length * block;
  const rgb: number[] = [];
  const classes: number[] = [];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const c = cells[Math.floor(y / block)][Math.floor(x / block)];
      rgb.push(...COLOURS[c]);
      classes.push(c);
    }
  }
  return { width, height, rgb, classes };
}

/** SEMANTIC_PNG layout: images/<name>.png and labels/<name>.png. */
export async function writeSemanticSample(root: string, name: string, width: number, height: number, rgb: ArrayLike<number>, label: ArrayLike<number>): Promise<void> {
  await writePng(join(root, "images", `${name}.png`), width, height, 3, rgb);
  await writePng(join(root, "labels", `${name}.png`), width, height, 1, label);
}

export function writeModel(path: string, model: TestModel): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, writeOnnxModel(model).bytes);
  return path;
}

type Dim = number | string;
const conv1x1 = (name: string, input: string, output: string, weight: number[][], bias: number[]): { node: TestNode; tensors: TestTensor[] } => ({
  node: { opType: "Conv", name, inputs: [input, `${name}.weight`, `${name}.bias`], outputs: [output], attributes: [{ name: "kernel_shape", ints: [1, 1] }] },
  tensors: [
    { name: `${name}.weight`, dtype: "F32", dims: [weight.length, weight[0].length, 1, 1], values: weight.flat() },
    { name: `${name}.bias`, dtype: "F32", dims: [bias.length], values: bias },
  ],
});

const IDENTITY3 = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];

/** logits = W·x + b per pixel (a 1×1 Conv); default W = identity, so class = argmax of the input channels. */
export function colourNet(options: { inputShape?: Dim[]; outputShape?: Dim[]; weight?: number[][]; bias?: number[]; outputName?: string } = {}): TestModel {
  const weight = options.weight ?? IDENTITY3;
  const c = conv1x1("head", "image", options.outputName ?? "logits", weight, options.bias ?? weight.map(() => 0));
  return {
    inputs: [{ name: "image", dtype: "F32", shape: options.inputShape ?? ["N", 3, "H", "W"] }],
    outputs: [{ name: options.outputName ?? "logits", dtype: "F32", shape: options.outputShape ?? ["N", weight.length, "H", "W"] }],
    nodes: [c.node],
    initializers: c.tensors,
  };
}

/** logits = x + mean of x over the whole input (GlobalAveragePool): a prediction that depends on the window it is computed in. */
export function windowMeanNet(): TestModel {
  return {
    inputs: [{ name: "image", dtype: "F32", shape: ["N", 3, "H", "W"] }],
    outputs: [{ name: "logits", dtype: "F32", shape: ["N", 3, "H", "W"] }],
    nodes: [
      { opType: "GlobalAveragePool", inputs: ["image"], outputs: ["mean"] },
      { opType: "Add", inputs: ["image", "mean"], outputs: ["logits"] },
    ],
    initializers: [],
  };
}

/** class ids = argmax over the input channels, int64 [N, H, W] (SEMANTIC_IDS). */
export function argmaxNet(): TestModel {
  return {
    inputs: [{ name: "image", dtype: "F32", shape: ["N", 3, "H", "W"] }],
    outputs: [{ name: "ids", dtype: "I64", shape: ["N", "H", "W"] }],
    nodes: [{ opType: "ArgMax", inputs: ["image"], outputs: ["ids"], attributes: [{ name: "axis", int: 1 }, { name: "keepdims", int: 0 }] }],
    initializers: [],
  };
}

/** PANOPTIC_IDS = table[argmax over the input channels], int64 [N, H, W]. */
export function panopticTableNet(table: number[]): TestModel {
  return {
    inputs: [{ name: "image", dtype: "F32", shape: ["N", 3, "H", "W"] }],
    outputs: [{ name: "panoptic", dtype: "I64", shape: ["N", "H", "W"] }],
    nodes: [
      { opType: "ArgMax", inputs: ["image"], outputs: ["cls"], attributes: [{ name: "axis", int: 1 }, { name: "keepdims", int: 0 }] },
      { opType: "Gather", inputs: ["table", "cls"], outputs: ["panoptic"], attributes: [{ name: "axis", int: 0 }] },
    ],
    initializers: [{ name: "table", dtype: "I64", dims: [table.length], values: table }],
  };
}

/**
 * Panoptic-DeepLab-shaped heads: semantic = identity 1×1 conv (class = argmax channel),
 * center = Relu(centerWeight·x + centerBias), offsets = 0 (every thing pixel joins its nearest center).
 */
export function deepLabNet(centerWeight: number[], centerBias: number): TestModel {
  const sem = conv1x1("semantic_head", "image", "semantic", IDENTITY3, [0, 0, 0]);
  const cen = conv1x1("center_head", "image", "center_raw", [centerWeight], [centerBias]);
  const off = conv1x1("offset_head", "image", "offset", [[0, 0, 0], [0, 0, 0]], [0, 0]);
  return {
    inputs: [{ name: "image", dtype: "F32", shape: ["N", 3, "H", "W"] }],
    outputs: [
      { name: "semantic", dtype: "F32", shape: ["N", 3, "H", "W"] },
      { name: "center", dtype: "F32", shape: ["N", 1, "H", "W"] },
      { name: "offset", dtype: "F32", shape: ["N", 2, "H", "W"] },
    ],
    nodes: [sem.node, cen.node, { opType: "Relu", inputs: ["center_raw"], outputs: ["center"] }, off.node],
    initializers: [...sem.tensors, ...cen.tensors, ...off.tensors],
  };
}

/**
 * A model whose run asks onnxruntime for more memory than any machine has: the image's channel
 * means (GlobalAveragePool) expanded to [1, 3, 2²², 2²²] floats — 211 TB, beyond the 128 TB a
 * 64-bit Linux process can address, so the allocation fails at once whatever the overcommit
 * setting — then sliced back to 4×4 (the contract's input size in the tests). onnxruntime reports it as the out-of-memory it is.
 */
export function greedyNet(): TestModel {
  const huge = 1 << 22;
  return {
    inputs: [{ name: "image", dtype: "F32", shape: ["N", 3, "H", "W"] }],
    outputs: [{ name: "logits", dtype: "F32", shape: ["N", 3, "H", "W"] }],
    nodes: [
      { opType: "GlobalAveragePool", inputs: ["image"], outputs: ["mean"] },
      { opType: "Expand", inputs: ["mean", "huge"], outputs: ["big"] },
      { opType: "Slice", inputs: ["big", "starts", "ends", "axes"], outputs: ["logits"] },
    ],
    initializers: [
      { name: "huge", dtype: "I64", dims: [4], values: [1, 3, huge, huge] },
      { name: "starts", dtype: "I64", dims: [2], values: [0, 0] },
      { name: "ends", dtype: "I64", dims: [2], values: [4, 4] },
      { name: "axes", dtype: "I64", dims: [2], values: [2, 3] },
    ],
  };
}

/** A model whose graph cannot run on any image: it reshapes 3×H×W values to a fixed [1, 3, 5, 7]. */
export function misshapenNet(): TestModel {
  return {
    inputs: [{ name: "image", dtype: "F32", shape: ["N", 3, "H", "W"] }],
    outputs: [{ name: "logits", dtype: "F32", shape: ["N", 3, "H", "W"] }],
    nodes: [{ opType: "Reshape", inputs: ["image", "shape"], outputs: ["logits"] }],
    initializers: [{ name: "shape", dtype: "I64", dims: [4], values: [1, 3, 5, 7] }],
  };
}
