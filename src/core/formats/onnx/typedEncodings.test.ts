import type { TensorInfo } from "../../structure/types";
import { bufferSource } from "../byteSource";
import { parseOnnx } from "./parseOnnx";
import { readTensorBytes } from "./readTensorBytes";
import { rewriteOnnx } from "./rewriteOnnx";
import { encodeValues, type TestDType, type TestEncoding, type TestTensor, writeOnnxModel } from "./testing/onnxModelWriter";

/**
 * Every typed-field encoding the reader and rewriter handle, on tensors in Gemm weight slots:
 * values are checked against the writer's own little-endian encoding of the same numbers.
 */
const cases: Array<[TestDType, TestEncoding, number[]]> = [
  // 0.1 is not exact in binary: F64 keeps all 53 bits, so the bytes must match to the last bit
  ["F64", "typed", [0.1, -2.5, 1e300, -0]],
  ["F64", "typed-unpacked", [0.1, -2.5, 3, 4]],
  // bf16 of 1, -3, 0.5, 1 + 2^-7 (exact in bf16's 7 mantissa bits)
  ["BF16", "typed", [1, -3, 0.5, 1 + 2 ** -7]],
  ["BF16", "typed-unpacked", [1, -3, 0.5, 1 + 2 ** -7]],
  // int64 values beyond 2^53 and negative (ten-byte varints)
  ["I64", "typed", [1, -1, 2 ** 40, -(2 ** 40)]],
  ["I8", "typed", [-128, 127, 0, -1]],
  ["F32", "typed-unpacked", [1.5, -0.25, 3, 4]],
];

function model(t: TestTensor): Uint8Array {
  return writeOnnxModel({
    inputs: [{ name: "x", dtype: "F32", shape: [2, 2] }],
    outputs: [{ name: "y", dtype: "F32", shape: [2, 2] }],
    nodes: [{ opType: "Gemm", inputs: ["x", t.name], outputs: ["y"] }],
    initializers: [t],
  }).bytes;
}

describe("typed TensorProto fields", () => {
  it.each(cases)("%s %s reads back and rewrites", async (dtype, encoding, values) => {
    const bytes = model({ name: "fc.weight", dtype, dims: [2, 2], values, encoding });
    const parsed = parseOnnx(bufferSource(bytes));
    expect(parsed.tensors).toHaveLength(1);
    const t = parsed.tensors[0];
    expect(t.dtype).toBe(dtype);
    expect(t.mergeable).toBe(["F64", "BF16", "F32"].includes(dtype));
    expect(Buffer.from(readTensorBytes(bufferSource(bytes), t)).equals(Buffer.from(encodeValues(dtype, values)))).toBe(true);

    const replacement = values.map((v, i) => (dtype === "I64" || dtype === "I8" ? -1 - i : -v / 2 + i));
    const chunks: Uint8Array[] = [];
    await rewriteOnnx(bufferSource(bytes), parsed, new Set([t.name]), {}, async (x: TensorInfo) => encodeValues(x.dtype as TestDType, replacement), {
      write: async (c) => void chunks.push(c.slice()),
    });
    const out = new Uint8Array(Buffer.concat(chunks));
    const again = parseOnnx(bufferSource(out));
    expect(again.tensors[0].location.kind).toBe("typed");
    expect(Buffer.from(readTensorBytes(bufferSource(out), again.tensors[0])).equals(Buffer.from(encodeValues(dtype, replacement)))).toBe(true);
  });
});
