import * as fs from "node:fs";
import * as path from "node:path";
import { parseModelFile } from "../src/core/formats/parseModelFile";
import { judgeOnnx } from "../src/core/formats/onnx/testing/judgeOnnx";
import { judgeSafetensors } from "../src/core/formats/safetensors/testing/judgeSafetensors";
import { judgePytorch } from "../src/core/formats/pytorch/testing/judgePytorch";

/**
 * The committed model files — written by the reference safetensors writer, by the onnx Python
 * package (with external data), by the demo's PyTorch export and by torch.save — are valid by the independent
 * judges and parse under the strict rules (tensors covering the data section exactly, every node
 * input naming a value).
 */
const root = path.join(__dirname, "..");
const files = [
  "src/core/formats/safetensors/testing/fixtures/official_sorted.safetensors",
  "src/core/formats/onnx/fixtures/pyfixture.onnx",
  ...["net_a.pth", "net_a_legacy.pth", "net_a_ddp.pth", "mmseg_like.pth", "half.pth", "net_a.onnx"].map((f) => `src/core/formats/pytorch/fixtures/${f}`),
  ...fs.readdirSync(path.join(root, "examples/demo/models")).filter((f) => f.endsWith(".onnx")).sort().map((f) => `examples/demo/models/${f}`),
];

describe("committed model files", () => {
  it("include the demo's models", () => {
    expect(files.length).toBeGreaterThanOrEqual(8);
  });

  it.each(files)("%s is valid by the independent judge and parses", (file) => {
    const full = path.join(root, file);
    const bytes = fs.readFileSync(full);
    const verdict = file.endsWith(".onnx") ? judgeOnnx(bytes) : file.endsWith(".pth") ? judgePytorch(bytes) : judgeSafetensors(bytes);
    expect(verdict).toMatchObject({ valid: true });
    const parsed = parseModelFile(full, { externalDataRoot: path.dirname(full) });
    expect(parsed.tensors.length).toBeGreaterThan(0);
  });
});
