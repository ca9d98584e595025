/**
 * The 512² benchmark net and its street-scene-like data, shared by the evaluation and merge
 * search benchmarks. The architecture is bench/evalBench.ts's; `seed` varies the weights so a
 * pool of same-structure models can be built (seed 1 gives evalBench's net).
 */
import { mkdirSync } from "fs";
import { join } from "path";
import sharp from "sharp";
import type { TestNode, TestTensor } from "../src/core/formats/onnx/testing/onnxModelWriter";
import { writeModel } from "../src/runtime/testing/evalFixtures";
import { prng } from "../src/core/testing/prng";

export const SIZE = 512;
export const CLASSES = 19;

/** The inference contract of the net (as registerModel takes it). */
export const BENCH_NET_CONTRACT = {
  inputName: "image",
  width: SIZE,
  height: SIZE,
  resize: { mode: "FIXED" as const },
  channelOrder: "RGB" as const,
  mean: [123.675, 116.28, 103.53],
  std: [58.395, 57.12, 57.375],
  outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" as const }],
};

/**
 * A segmentation-shaped conv net: stem 3→32 /2, 32→32, 32→64 /2, 2 × 64→64 (3×3, ReLU), a 1×1
 * head to 19 classes at 1/4 resolution and a bilinear Resize ×4 back to the input, as mmseg
 * exports do. Returns the path and its multiply-accumulates per image.
 */
export function buildBenchNet(path: string, seed = 1): { path: string; macs: number } {
  const random = prng(seed);
  const nodes: TestNode[] = [];
  const initializers: TestTensor[] = [];
  let macs = 0;
  let side = SIZE;
  let x = "image";
  const conv = (name: string, cin: number, cout: number, k: number, stride: number, relu: boolean) => {
    const scale = Math.sqrt(2 / (cin * k * k));
    initializers.push({ name: `${name}.weight`, dtype: "F32", dims: [cout, cin, k, k], values: Array.from({ length: cout * cin * k * k }, () => (random() * 2 - 1) * scale) });
    initializers.push({ name: `${name}.bias`, dtype: "F32", dims: [cout], values: Array.from({ length: cout }, () => (random() - 0.5) * 0.1) });
    const pad = (k - 1) / 2;
    const out = `${name}.out`;
    nodes.push({ opType: "Conv", name, inputs: [x, `${name}.weight`, `${name}.bias`], outputs: [out], attributes: [{ name: "kernel_shape", ints: [k, k] }, { name: "pads", ints: [pad, pad, pad, pad] }, { name: "strides", ints: [stride, stride] }] });
    side = side / stride;
    macs += cin * cout * k * k * side * side;
    x = out;
    if (relu) {
      nodes.push({ opType: "Relu", inputs: [out], outputs: [`${name}.relu`] });
      x = `${name}.relu`;
    }
  };
  conv("stem", 3, 32, 3, 2, true);
  conv("layer1", 32, 32, 3, 1, true);
  conv("down", 32, 64, 3, 2, true);
  conv("layer2a", 64, 64, 3, 1, true);
  conv("layer2b", 64, 64, 3, 1, true);
  conv("head", 64, CLASSES, 1, 1, false);
  initializers.push({ name: "scales", dtype: "F32", dims: [4], values: [1, 1, 4, 4] });
  nodes.push({ opType: "Resize", inputs: [x, "", "scales"], outputs: ["logits"], attributes: [{ name: "mode", string: "linear" }] });
  writeModel(path, {
    inputs: [{ name: "image", dtype: "F32", shape: ["N", 3, SIZE, SIZE] }],
    outputs: [{ name: "logits", dtype: "F32", shape: ["N", CLASSES, SIZE, SIZE] }],
    nodes,
    initializers,
  });
  return { path, macs };
}

/** Street-scene-like PNGs (images/, labels/ as SEMANTIC_PNG): smooth gradients, a few flat regions, mild noise; labels are the regions. */
export async function writeBenchImages(root: string, side: number, count: number): Promise<void> {
  const random = prng(side);
  mkdirSync(join(root, "images"), { recursive: true });
  mkdirSync(join(root, "labels"), { recursive: true });
  const cell = side / 8;
  for (let i = 0; i < count; i++) {
    const classes = Array.from({ length: 64 }, () => (random() < 0.05 ? 255 : Math.floor(random() * CLASSES)));
    const rgb = Buffer.alloc(side * side * 3);
    const label = Buffer.alloc(side * side);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const c = classes[Math.floor(y / cell) * 8 + Math.floor(x / cell)];
        const o = (y * side + x) * 3;
        const base = (c * 13) % 256;
        rgb[o] = Math.max(0, Math.min(255, base + ((x * 255) / side) * 0.3 + (random() - 0.5) * 16));
        rgb[o + 1] = Math.max(0, Math.min(255, (base * 7) % 256 + ((y * 255) / side) * 0.3 + (random() - 0.5) * 16));
        rgb[o + 2] = Math.max(0, Math.min(255, (base * 3) % 256 + (random() - 0.5) * 16));
        label[y * side + x] = c;
      }
    }
    const name = `frame_${String(i).padStart(4, "0")}.png`;
    await sharp(rgb, { raw: { width: side, height: side, channels: 3 } }).png().toFile(join(root, "images", name));
    await sharp(label, { raw: { width: side, height: side, channels: 1 } }).toColourspace("b-w").png().toFile(join(root, "labels", name));
  }
}
