/** @jest-environment ./test/support/ortEnvironment.js */
/**
 * The inference thread writes a run's outputs into buffers recycled from an earlier run instead of
 * allocating new ones (onnxruntime-node fills pre-allocated output tensors given as fetches). The
 * model is colourNet's 1×1 identity convolution, so each run's logits must equal its input.
 */
import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import * as ort from "onnxruntime-node";
import { openSession, sessionThreads } from "../src/runtime/openSession";
import { SessionThread } from "../src/runtime/SessionThread";
import { colourNet, writeModel } from "../src/runtime/testing/evalFixtures";

let root: string;
let modelPath: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "lm-output-reuse-"));
  modelPath = writeModel(join(root, "identity.onnx"), colourNet());
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const input = (n: number, start: number) => Float32Array.from({ length: n }, (_, i) => start + i * 0.5);

describe("output buffer reuse", () => {
  it("onnxruntime-node writes into a pre-allocated output tensor passed as a fetch (what the inference thread relies on) and returns a copy of it", async () => {
    const session = await openSession(modelPath, sessionThreads(1));
    try {
      const out = new Float32Array(12).fill(NaN);
      const preallocated = new ort.Tensor("float32", out, [1, 3, 2, 2]);
      const result = await session.run({ image: new ort.Tensor("float32", input(12, 3), [1, 3, 2, 2]) }, { logits: preallocated });
      expect(Array.from(out)).toEqual(Array.from(input(12, 3)));
      // 1.30 returns a copy, not the pre-allocated tensor: the thread sends back its own buffers
      expect(Array.from((result.logits as ort.Tensor).data as Float32Array)).toEqual(Array.from(input(12, 3)));
    } finally {
      await session.release();
    }
  });

  it("a recycled output buffer is handed to the thread with the next run on the same dims, and that run's outputs are right", async () => {
    const thread = await SessionThread.open(modelPath, sessionThreads(1));
    try {
      const dims = [1, 3, 2, 2];
      const first = await thread.run("image", input(12, 1), dims, ["logits"]);
      expect(Array.from(first.logits.data as Float32Array)).toEqual(Array.from(input(12, 1)));
      const recycled = first.logits.data as Float32Array;
      thread.recycle(dims, first);
      const second = await thread.run("image", input(12, 100), dims, ["logits"]);
      // the buffer was transferred to the thread (detached here) and the outputs are the new input's
      expect(recycled.byteLength).toBe(0);
      expect(Array.from(second.logits.data as Float32Array)).toEqual(Array.from(input(12, 100)));
      // a run on other dims does not take it: nothing recycled for [1, 3, 4, 4]
      thread.recycle(dims, second);
      const kept = second.logits.data as Float32Array;
      const other = await thread.run("image", input(48, -7), [1, 3, 4, 4], ["logits"]);
      expect(Array.from(other.logits.data as Float32Array)).toEqual(Array.from(input(48, -7)));
      expect(kept.byteLength).toBe(48);
    } finally {
      await thread.release();
    }
  });

  it("outputs that do not fit the run (a model whose output dims vary) are not used: the run is repeated with fresh outputs", async () => {
    const thread = await SessionThread.open(modelPath, sessionThreads(1));
    try {
      const small = await thread.run("image", input(12, 1), [1, 3, 2, 2], ["logits"]);
      // recycled under the wrong input dims, as if the model's output dims had changed with the content
      thread.recycle([1, 3, 4, 4], small);
      const big = await thread.run("image", input(48, 9), [1, 3, 4, 4], ["logits"]);
      expect(big.logits.dims).toEqual([1, 3, 4, 4]);
      expect(Array.from(big.logits.data as Float32Array)).toEqual(Array.from(input(48, 9)));
    } finally {
      await thread.release();
    }
  });
});
