import { bufferSource } from "../byteSource";
import type { TensorInfo } from "../../structure/types";
import { parseSafetensors } from "./parseSafetensors";
import { judgeSafetensors } from "./testing/judgeSafetensors";
import { writeSafetensorsFrom } from "./writeSafetensorsFrom";

/**
 * A checkpoint's merge output: the listed tensors in their own order (integer-like names too),
 * copied from their byte ranges or replaced, with the metadata — valid by the independent judge
 * and read back with the same bytes.
 */
function tensor(name: string, dtype: "F32" | "I64", shape: number[], offset: number): TensorInfo {
  const elements = shape.reduce((a, d) => a * d, 1);
  const length = elements * (dtype === "F32" ? 4 : 8);
  return { name, dtype, shape, elements, mergeable: dtype === "F32", layerIndex: 0, group: name.split(".")[0], location: { kind: "raw", offset, length } };
}

async function write(tensors: TensorInfo[], source: Uint8Array, replace: Record<string, Uint8Array>, metadata?: Record<string, string>) {
  const chunks: Uint8Array[] = [];
  await writeSafetensorsFrom(bufferSource(source), tensors, {
    replace: Object.keys(replace),
    getTensorBytes: async (ref) => replace[ref.name],
    metadata,
    chunkBytes: 3,
  }, { async write(chunk) { chunks.push(Uint8Array.from(chunk)); } });
  return new Uint8Array(Buffer.concat(chunks));
}

describe("writeSafetensorsFrom", () => {
  // A "file" of 40 bytes: w (F32 [2, 2]) at 4, 7 (I64 []) at 24, b (F32 [2]) at 32.
  const file = Uint8Array.from({ length: 40 }, (_, i) => i);
  const tensors = [tensor("w.weight", "F32", [2, 2], 4), tensor("7", "I64", [], 24), tensor("b.bias", "F32", [2], 32)];

  it("writes the tensors in the given order, copying or replacing their bytes, with the metadata", async () => {
    const replacement = Uint8Array.from({ length: 8 }, () => 0xee);
    const out = await write(tensors, file, { "b.bias": replacement }, { "layermerge.method": "LAYERWISE", "layermerge.checkpoint_meta": "{\"iter\":3}" });
    expect(judgeSafetensors(out)).toMatchObject({ valid: true });
    const source = bufferSource(out);
    const parsed = parseSafetensors(source);
    expect(parsed.tensors.map((t) => t.name)).toEqual(["w.weight", "7", "b.bias"]);
    const bytes = (name: string) => {
      const loc = parsed.tensors.find((t) => t.name === name)!.location as { offset: number; length: number };
      return Array.from(source.read(loc.offset, loc.length));
    };
    expect(bytes("w.weight")).toEqual(Array.from(file.subarray(4, 20)));
    expect(bytes("7")).toEqual(Array.from(file.subarray(24, 32)));
    expect(bytes("b.bias")).toEqual(Array.from(replacement));
    expect((parsed.metadata as { __metadata__: Record<string, string> }).__metadata__).toEqual({ "layermerge.method": "LAYERWISE", "layermerge.checkpoint_meta": "{\"iter\":3}" });
    // The header is padded to 8 bytes, so the data is aligned.
    expect(Number(Buffer.from(out).readBigUInt64LE(0)) % 8).toBe(0);
  });

  it("refuses a replacement of the wrong size and an unknown replaced name", async () => {
    await expect(write(tensors, file, { "b.bias": new Uint8Array(4) })).rejects.toThrow(/has 4 bytes, the anchor's has 8/);
    await expect(write(tensors, file, { nope: new Uint8Array(4) })).rejects.toThrow(/no such tensor/);
  });
});
