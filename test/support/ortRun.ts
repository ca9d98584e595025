import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";

/*
 * onnxruntime-node's output tensors fail its own `instanceof Float32Array` check inside jest's
 * test realm, so these end-to-end checks run the session in a plain child Node process.
 */
const RUNNER = `
const ort = require("onnxruntime-node");
const fs = require("fs");
(async () => {
  const [model, input] = process.argv.slice(1);
  const { name, data, dims } = JSON.parse(fs.readFileSync(input, "utf8"));
  const session = await ort.InferenceSession.create(model);
  const result = await session.run({ [name]: new ort.Tensor("float32", Float32Array.from(data), dims) });
  const out = {};
  for (const [k, v] of Object.entries(result)) out[k] = { dims: v.dims, data: Array.from(v.data) };
  process.stdout.write(JSON.stringify(out));
})().catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
`;

export function runOnnx(model: Uint8Array, inputName: string, data: Float32Array, dims: number[]): Record<string, { dims: number[]; data: number[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-ort-"));
  try {
    fs.writeFileSync(path.join(dir, "model.onnx"), model);
    fs.writeFileSync(path.join(dir, "input.json"), JSON.stringify({ name: inputName, data: Array.from(data), dims }));
    const out = execFileSync(process.execPath, ["-e", RUNNER, path.join(dir, "model.onnx"), path.join(dir, "input.json")], {
      cwd: path.resolve(__dirname, "..", ".."),
      encoding: "utf8",
      maxBuffer: 256 << 20,
    });
    return JSON.parse(out);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
