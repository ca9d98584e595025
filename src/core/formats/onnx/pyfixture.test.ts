import * as fs from "node:fs";
import * as path from "node:path";
import { FileByteSource } from "../byteSource";
import { openExternalData } from "./externalData";
import { parseOnnx, type OnnxMetadata } from "./parseOnnx";
import { readTensorBytes } from "./readTensorBytes";

/**
 * A model written by the `onnx` Python package (fixtures/make_fixtures.py): fp16 in int32_data,
 * float_data in a Constant node, an external-data tensor, DequantizeLinear weights, and Casts
 * appended out of order. Expected structure written by hand in the script; values decoded by
 * onnx.numpy_helper.
 */
const dir = path.join(__dirname, "fixtures");
const expected = JSON.parse(fs.readFileSync(path.join(dir, "pyfixture.expected.json"), "utf8"));

function asNumbers(bytes: Uint8Array, dtype: string): number[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = dtype === "I8" ? bytes.length : dtype === "F16" ? bytes.length / 2 : bytes.length / 4;
  return Array.from({ length: n }, (_, i) => {
    if (dtype === "I8") return v.getInt8(i);
    if (dtype === "F32") return v.getFloat32(i * 4, true);
    const h = v.getUint16(i * 2, true);
    const e = (h >> 10) & 31;
    const m = h & 1023;
    return (h & 0x8000 ? -1 : 1) * (e === 0 ? m * 2 ** -24 : 2 ** (e - 15) * (1 + m / 1024));
  });
}

describe("parseOnnx on a model written by the onnx Python package", () => {
  it("finds the hand-specified structure and numpy's values", () => {
    const source = new FileByteSource(path.join(dir, "pyfixture.onnx"));
    const open = openExternalData(dir);
    try {
      const parsed = parseOnnx(source, { externalDataRoot: dir });
      expect(parsed.layerCount).toBe(expected.layerCount);
      expect(parsed.tensors.map((t) => [t.name, t.shape, t.dtype, t.mergeable, t.layerIndex, t.group])).toEqual(
        expected.tensors.map((t: Record<string, unknown>) => [t.name, t.shape, t.dtype, t.mergeable, t.layerIndex, t.group]),
      );
      for (const [i, t] of parsed.tensors.entries()) {
        expect(asNumbers(readTensorBytes(source, t, open), t.dtype)).toEqual(expected.tensors[i].values);
      }
      expect(parsed.tensors.find((t) => t.name === "backbone.conv1.weight")!.location).toMatchObject({ kind: "typed", field: "int32_data", encoding: "varint" });
      expect(parsed.tensors.find((t) => t.name === "neck.offset")!.location).toMatchObject({ kind: "typed", field: "float_data" });
      const m = parsed.metadata as unknown as OnnxMetadata;
      expect(m.opset).toEqual(expected.opset);
      expect(m.producerName).toBe(expected.producerName);
      expect(m.inputs).toEqual(expected.inputs);
      expect(m.metadataProps).toEqual(expected.metadataProps);
      expect(m.externalDataFiles).toEqual(expected.externalDataFiles);
      expect(m.nodeOrderRepaired).toBe(true);
    } finally {
      source.close();
      open.close();
    }
  });
});
