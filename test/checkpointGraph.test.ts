import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import sharp from "sharp";
import { writeGraphWithWeights } from "../src/core/graphWeights/writeGraphWithWeights";
import { runOnnx } from "./support/ortRun";

/*
 * A checkpoint written into an ONNX graph runs as PyTorch runs the checkpoint: compared with
 * PyTorch's eval-mode logits (fixtures/make_checkpoint_fixtures.py) and with the independent
 * unfused export of another checkpoint.
 */
const FIXTURES = path.join(__dirname, "..", "src", "core", "graphWeights", "fixtures");
const fixture = (name: string) => path.join(FIXTURES, name);
const expected = JSON.parse(fs.readFileSync(fixture("expected.json"), "utf8")) as { size: number; mean: number[]; std: number[]; images: string[]; logits: number[][] };

async function input(name: string): Promise<Float32Array> {
  const { data } = await sharp(path.join(FIXTURES, "dataset", "images", `${name}.png`)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const n = expected.size * expected.size;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[c * n + i] = Math.fround(Math.fround(data[i * 3 + c] - Math.fround(expected.mean[c])) / Math.fround(expected.std[c]));
  return out;
}

function logitsOf(model: Uint8Array, x: Float32Array): number[] {
  return runOnnx(model, "image", x, [1, 3, expected.size, expected.size]).logits.data;
}

function maxDiff(a: readonly number[], b: readonly number[]): number {
  expect(a).toHaveLength(b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

describe("a checkpoint written into its graph", () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-ckgraph-"))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("through the folded export, gives PyTorch's eval-mode logits", async () => {
    const out = path.join(dir, "a-folded.onnx");
    const { notes } = await writeGraphWithWeights(fixture("segnet_a.folded.onnx"), fixture("segnet_a.safetensors"), out);
    expect(notes[0]).toBe("checkpoint mapped onto the graph's 6 parameters: 2 by name, 4 by position");
    expect(notes[1]).toBe("2 Conv + BatchNorm pairs folded (eval mode, eps 0.00001)");
    const model = fs.readFileSync(out);
    for (const [i, name] of expected.images.entries()) expect(maxDiff(logitsOf(model, await input(name)), expected.logits[i])).toBeLessThan(1e-4);
  });

  test("another checkpoint through the same folded graph runs as that checkpoint's own unfused export", async () => {
    const out = path.join(dir, "b-in-a.onnx");
    await writeGraphWithWeights(fixture("segnet_a.folded.onnx"), fixture("segnet_b.safetensors"), out);
    const model = fs.readFileSync(out);
    const reference = fs.readFileSync(fixture("segnet_b.unfused.onnx"));
    const x = await input(expected.images[0]);
    const got = logitsOf(model, x);
    expect(maxDiff(got, logitsOf(reference, x))).toBeLessThan(1e-4);
    // and it is not a's output: the weights were replaced
    expect(maxDiff(got, expected.logits[0])).toBeGreaterThan(1e-2);
  });

  test("a graph of another architecture is refused naming the initializer, and nothing is left behind", async () => {
    const out = path.join(dir, "wide.onnx");
    await expect(writeGraphWithWeights(fixture("segnet_wide.folded.onnx"), fixture("segnet_a.safetensors"), out)).rejects.toMatchObject({ code: "BAD_USER_INPUT", message: expect.stringContaining('graph initializer "head.weight"') });
    expect(fs.existsSync(out)).toBe(false);
  });
});
