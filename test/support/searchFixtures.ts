import { blockImage, writeSemanticSample } from "../../src/runtime/testing/evalFixtures";
import type { TestModel } from "../../src/core/formats/onnx/testing/onnxModelWriter";

/*
 * What the merge search suites share: a small pool of mergeable models and a labelled split.
 */

/** Two 1×1 Conv layers (stem, head): L = 2, so a schedule weighs the stem (t = 0) and the head (t = 1) differently. */
export function twoLayerNet(seed: number): TestModel {
  let s = seed;
  const r = () => ((s = (s * 16807) % 2147483647) / 2147483647 - 0.5) * 2;
  const w = () => [0, 1, 2].map((i) => [0, 1, 2].map((j) => (i === j ? 1 : 0) + 0.8 * r()));
  const conv = (name: string, input: string, output: string) => ({
    node: { opType: "Conv", name, inputs: [input, `${name}.weight`, `${name}.bias`], outputs: [output], attributes: [{ name: "kernel_shape", ints: [1, 1] }] },
    tensors: [
      { name: `${name}.weight`, dtype: "F32" as const, dims: [3, 3, 1, 1], values: w().flat() },
      { name: `${name}.bias`, dtype: "F32" as const, dims: [3], values: [0.3 * r(), 0.3 * r(), 0.3 * r()] },
    ],
  });
  const stem = conv("stem", "image", "features");
  const head = conv("head", "features", "logits");
  return {
    inputs: [{ name: "image", dtype: "F32", shape: ["N", 3, "H", "W"] }],
    outputs: [{ name: "logits", dtype: "F32", shape: ["N", 3, "H", "W"] }],
    nodes: [stem.node, head.node],
    initializers: [...stem.tensors, ...head.tensors],
  };
}

/** `copies` × 3 images of 4×4 blocks of `block` pixels (0 red, 1 green, 2 blue), labelled, in images/ and labels/. */
export async function blocks(dir: string, copies = 1, block = 2) {
  const layouts = [
    [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 2, 2], [2, 2, 0, 1]],
    [[1, 2, 0, 0], [1, 2, 0, 0], [2, 2, 1, 1], [0, 1, 2, 0]],
    [[2, 2, 2, 1], [0, 1, 0, 1], [0, 1, 2, 2], [1, 1, 0, 0]],
  ];
  for (let n = 0; n < copies * layouts.length; n++) {
    const i = n % layouts.length;
    const img = blockImage(layouts[i], block);
    // a little texture so that the models disagree on some pixels
    const rgb = img.rgb.map((v, k) => Math.max(0, Math.min(255, v + ((k * 37 + i * 11) % 90) - 45)));
    await writeSemanticSample(dir, `img${n}`, img.width, img.height, rgb, img.classes);
  }
}

