/** @jest-environment ./test/support/ortEnvironment.js */
/**
 * The custom environment makes onnxruntime-node usable in-process: without it this run throws
 * "A float32 tensor's data must be type of Float32Array" (output tensors are main-realm arrays).
 */
import * as ort from "onnxruntime-node";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { writeOnnxModel } from "../src/core/formats/onnx/testing/onnxModelWriter";

describe("ortEnvironment", () => {
  it("shares typed-array constructors with the main realm, so session outputs are usable", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lm-realm-"));
    try {
      const { bytes } = writeOnnxModel({
        inputs: [{ name: "x", dtype: "F32", shape: ["N", 2] }],
        outputs: [{ name: "y", dtype: "F32", shape: ["N", 2] }, { name: "k", dtype: "I64", shape: ["N"] }],
        nodes: [
          { opType: "Relu", inputs: ["x"], outputs: ["y"] },
          { opType: "ArgMax", inputs: ["x"], outputs: ["k"], attributes: [{ name: "axis", int: 1 }, { name: "keepdims", int: 0 }] },
        ],
        initializers: [],
      });
      writeFileSync(join(dir, "m.onnx"), bytes);
      const session = await ort.InferenceSession.create(join(dir, "m.onnx"));
      const out = await session.run({ x: new ort.Tensor("float32", Float32Array.of(-1, 2, 3, -4), [2, 2]) });
      // relu(-1, 2, 3, -4) = (0, 2, 3, 0); argmax per row: row 0 → 1, row 1 → 0
      expect(out.y.data).toBeInstanceOf(Float32Array);
      expect(Array.from(out.y.data as Float32Array)).toEqual([0, 2, 3, 0]);
      expect(out.k.data).toBeInstanceOf(BigInt64Array);
      expect(Array.from(out.k.data as BigInt64Array)).toEqual([1n, 0n]);
      await session.release();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
