/**
 * No custom environment here on purpose: evaluateModel runs onnxruntime in a thread of its own and
 * reads outputs by their type names, so it works in jest's default sandbox too (only code that
 * calls onnxruntime-node in the test's own thread needs test/support/ortEnvironment.js).
 */
import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { evaluateModel } from "../src/runtime";
import { argmaxNet, blockImage, colourNet, writeModel, writeSemanticSample } from "../src/runtime/testing/evalFixtures";

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "lm-runtime-noenv-"));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

it("evaluates int64 SEMANTIC_IDS and float32 logits outputs in jest's default environment", async () => {
  // 4×4 image, 2×2 blocks red | green / blue | red, labels = colours except the bottom-right
  // block labelled green: class 0 pred 8 px, 4 right → IoU 4/8; class 1 pred 4, gt 8 → 4/8; class 2 → 1.
  const img = blockImage([[0, 1], [2, 0]], 2);
  const label = img.classes.map((c, i) => (i % 4 >= 2 && i >= 8 ? 1 : c));
  await writeSemanticSample(join(root, "ds"), "a", 4, 4, img.rgb, label);
  const dataset = { format: "SEMANTIC_PNG" as const, location: join(root, "ds"), classes: [0, 1, 2].map((id) => ({ id, name: `c${id}`, isThing: false })) };
  const base = { inputName: "image", width: 4, height: 4, resize: { mode: "FIXED" as const }, channelOrder: "RGB" as const, mean: [0, 0, 0], std: [1, 1, 1] };
  const ids = await evaluateModel({ modelPath: writeModel(join(root, "ids.onnx"), argmaxNet()), contract: { ...base, outputs: [{ name: "ids", kind: "SEMANTIC_IDS" }] }, dataset, task: "SEMANTIC" });
  expect(ids.perClass.map((c) => c.iou)).toEqual([0.5, 0.5, 1]);
  const logits = await evaluateModel({ modelPath: writeModel(join(root, "logits.onnx"), colourNet()), contract: { ...base, outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" }] }, dataset, task: "SEMANTIC" });
  expect(logits.score).toBeCloseTo((0.5 + 0.5 + 1) / 3, 12);
});
