import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseModelFile } from "./parseModelFile";
import { writeSafetensors } from "./safetensors/testing/writeSafetensors";

describe("parseModelFile", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-parse-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, bytes: Uint8Array) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, bytes);
    return file;
  };

  test("a tensor name with a NUL character is refused (PostgreSQL text cannot hold it), naming the tensor", () => {
    const file = write("nul.safetensors", writeSafetensors([{ name: "bn1.\u0000mean", dtype: "F32", shape: [4] }, { name: "conv.weight", dtype: "F32", shape: [2] }]));
    expect(() => parseModelFile(file)).toThrow(/tensor name "bn1\.\\u0000mean" contains a NUL character/);
  });

  test("the same file without the NUL parses", () => {
    const file = write("ok.safetensors", writeSafetensors([{ name: "bn1.mean", dtype: "F32", shape: [4] }, { name: "conv.weight", dtype: "F32", shape: [2] }]));
    expect(parseModelFile(file).tensors.map((t) => t.name).sort()).toEqual(["bn1.mean", "conv.weight"]);
  });
});
