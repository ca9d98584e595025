/**
 * The test writer's models and the rewriter's output load and run in onnxruntime-node, and
 * onnxruntime computes what an independent float64 forward pass over the builder's own
 * description computes — so the writer encodes the values it claims, and a rewrite changes
 * exactly the values it was given.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { bufferSource } from "../src/core/formats/byteSource";
import { openExternalData } from "../src/core/formats/onnx/externalData";
import { parseOnnx } from "../src/core/formats/onnx/parseOnnx";
import { planOnnxRewrite } from "../src/core/formats/onnx/planOnnxRewrite";
import { buildSegNet, type SegNetOptions } from "../src/core/formats/onnx/testing/buildSegNet";
import { encodeValues, type TestDType } from "../src/core/formats/onnx/testing/onnxModelWriter";
import { writeOnnxRewrite } from "../src/core/formats/onnx/writeOnnxRewrite";

const IN = 3;
const SIZE = 16;
const CLASSES = 4;
const WIDTH = 8;

type Volume = { c: number; h: number; w: number; data: Float64Array };

function conv(x: Volume, weight: number[], bias: number[], cout: number, k: number, stride: number): Volume {
  const pad = (k - 1) / 2;
  const h = Math.floor((x.h + 2 * pad - k) / stride) + 1;
  const w = Math.floor((x.w + 2 * pad - k) / stride) + 1;
  const out = new Float64Array(cout * h * w);
  for (let co = 0; co < cout; co++)
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++) {
        let s = bias[co];
        for (let ci = 0; ci < x.c; ci++)
          for (let ky = 0; ky < k; ky++)
            for (let kx = 0; kx < k; kx++) {
              const iy = y * stride + ky - pad;
              const ix = xx * stride + kx - pad;
              if (iy < 0 || ix < 0 || iy >= x.h || ix >= x.w) continue;
              s += weight[((co * x.c + ci) * k + ky) * k + kx] * x.data[(ci * x.h + iy) * x.w + ix];
            }
        out[(co * h + y) * w + xx] = s;
      }
  return { c: cout, h, w, data: out };
}

const map = (v: Volume, f: (value: number, channel: number) => number): Volume => ({
  ...v,
  data: v.data.map((value, i) => f(value, Math.floor(i / (v.h * v.w)))),
});

/** The net buildSegNet describes, in float64; Resize ×2 nearest with half_pixel + round_prefer_floor picks input floor(x/2). */
function reference(values: Record<string, number[]>, heads: "A" | "B", image: Float32Array): number[] {
  let x: Volume = { c: IN, h: SIZE, w: SIZE, data: Float64Array.from(image) };
  const stem = map(conv(x, values["backbone.stem.conv.weight"], values["backbone.stem.conv.bias"], WIDTH, 3, 2), (v) => Math.max(0, v));
  const l1 = map(conv(stem, values["backbone.layer1.conv.weight"], values["backbone.layer1.conv.bias"], WIDTH, 3, 1), (v) => Math.max(0, v));
  x = { ...l1, data: l1.data.map((v, i) => (v + stem.data[i]) * values["backbone.layer1.gamma"][Math.floor(i / (l1.h * l1.w))] * 0.5) };
  let width = WIDTH;
  if (heads === "B") {
    x = map(conv(x, values["decode_head.conv1.weight"], values["decode_head.conv1.bias"], 2 * WIDTH, 3, 1), (v) => Math.max(0, v));
    width = 2 * WIDTH;
  }
  expect(x.c).toBe(width);
  const seg = conv(x, values["decode_head.conv_seg.weight"], values["decode_head.conv_seg.bias"], CLASSES, 1, 1);
  const out: number[] = [];
  for (let c = 0; c < CLASSES; c++)
    for (let y = 0; y < SIZE; y++)
      for (let xx = 0; xx < SIZE; xx++) out.push(seg.data[(c * seg.h + (y >> 1)) * seg.w + (xx >> 1)]);
  return out;
}

const image = Float32Array.from({ length: IN * SIZE * SIZE }, (_, i) => Math.sin(i * 0.37) * 0.8);

/**
 * onnxruntime runs in a child process: inside jest's sandbox, output tensors come back as
 * Float32Arrays of the main realm and onnxruntime-common's `instanceof` check (against the
 * sandbox's Float32Array) throws "A float32 tensor's data must be type of Float32Array".
 */
const RUNNER = `
const ort = require("onnxruntime-node");
const fs = require("fs");
(async () => {
  const [model, input] = process.argv.slice(1);
  const { data, dims } = JSON.parse(fs.readFileSync(input, "utf8"));
  const session = await ort.InferenceSession.create(model);
  const result = await session.run({ image: new ort.Tensor("float32", Float32Array.from(data), dims) });
  process.stdout.write(JSON.stringify({ dims: result.logits.dims, data: Array.from(result.logits.data) }));
})().catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
`;

function runFile(modelPath: string): { dims: number[]; data: number[] } {
  const input = path.join(path.dirname(modelPath), "input.json");
  fs.writeFileSync(input, JSON.stringify({ data: Array.from(image), dims: [1, IN, SIZE, SIZE] }));
  const out = execFileSync(process.execPath, ["-e", RUNNER, modelPath, input], { cwd: path.resolve(__dirname, ".."), encoding: "utf8", maxBuffer: 64 << 20 });
  return JSON.parse(out);
}

async function run(bytes: Uint8Array): Promise<{ dims: number[]; data: number[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ort-run-"));
  try {
    fs.writeFileSync(path.join(dir, "model.onnx"), bytes);
    return runFile(path.join(dir, "model.onnx"));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function maxError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe("writer-made ONNX models in onnxruntime-node", () => {
  const variants: Array<[string, SegNetOptions, number]> = [
    // fp32 accumulates in float32: ~1e-6 of values ~1
    ["fp32 raw, head A", {}, 1e-4],
    ["fp32 raw, head B", { heads: "B" }, 1e-4],
    ["fp32 Constant nodes, packed float_data", { constants: "constant", encoding: "typed" }, 1e-4],
    ["fp32 unpacked float_data, unsorted", { encoding: "typed-unpacked", nodeOrder: "unsorted" }, 1e-4],
    // fp16 activations round at every op: a few ulps of 2^-10 relative on values ~1
    ["fp16 raw, Casts appended", { dtype: "F16", nodeOrder: "unsorted" }, 3e-2],
    ["fp16 Constant nodes, int32_data", { dtype: "F16", constants: "constant", encoding: "typed" }, 3e-2],
  ];

  it.each(variants)("%s computes the reference forward pass", async (_label, options, tolerance) => {
    const net = buildSegNet({ inChannels: IN, classes: CLASSES, width: WIDTH, size: SIZE, ...options });
    const values = Object.fromEntries(net.description.tensors.map((t) => [t.name, t.values]));
    const out = await run(net.bytes);
    expect(out.dims).toEqual([1, CLASSES, SIZE, SIZE]);
    expect(maxError(out.data, reference(values, options.heads ?? "A", image))).toBeLessThan(tolerance);
  });

  it("runs the quantized (DequantizeLinear + ConvInteger) variant", async () => {
    const out = await run(buildSegNet({ quantized: true }).bytes);
    expect(out.dims).toEqual([1, CLASSES, SIZE, SIZE]);
    expect(Array.from(out.data).every(Number.isFinite)).toBe(true);
  });

  it("runs the external-data variant from its folder", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ort-ext-"));
    try {
      const net = buildSegNet({ encoding: "external", externalFileName: "segnet.bin" });
      fs.writeFileSync(path.join(dir, "segnet.onnx"), net.bytes);
      fs.writeFileSync(path.join(dir, "segnet.bin"), net.external!.bytes);
      const result = runFile(path.join(dir, "segnet.onnx"));
      const values = Object.fromEntries(net.description.tensors.map((t) => [t.name, t.values]));
      expect(maxError(result.data, reference(values, "A", image))).toBeLessThan(1e-4);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("rewritten ONNX models in onnxruntime-node", () => {
  /** New backbone values: the anchor's scaled by 0.5 (exact in fp16 and fp32). */
  const cases: Array<[string, SegNetOptions, number]> = [
    ["fp32 raw", {}, 1e-4],
    ["fp16 int32_data (varints re-encoded)", { dtype: "F16", encoding: "typed" }, 3e-2],
    ["fp16 unpacked int32_data Constant nodes", { dtype: "F16", encoding: "typed-unpacked", constants: "constant" }, 3e-2],
    ["fp32 external data (inlined)", { encoding: "external", externalFileName: "w.bin" }, 1e-4],
  ];

  it.each(cases)("%s: loads, and computes the forward pass of the new values", async (_label, options, tolerance) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ort-rw-"));
    const net = buildSegNet(options);
    if (net.external) fs.writeFileSync(path.join(dir, net.external.fileName), net.external.bytes);
    const open = openExternalData(dir);
    try {
      const source = bufferSource(net.bytes);
      const parsed = parseOnnx(source, { openExternal: open });
      const replaced = new Set(parsed.tensors.filter((t) => t.group === "backbone").map((t) => t.name));
      const values = Object.fromEntries(net.description.tensors.map((t) => [t.name, replaced.has(t.name) ? t.values.map((v) => -0.5 * v) : t.values]));
      const plan = planOnnxRewrite(source, parsed, replaced, { "layermerge.method": "LAYERWISE" }, { openExternal: open });
      const chunks: Uint8Array[] = [];
      await writeOnnxRewrite(plan, async (t) => encodeValues(t.dtype as TestDType, values[t.name]), { write: async (c) => void chunks.push(c.slice()) });
      const out = await run(new Uint8Array(Buffer.concat(chunks)));
      expect(out.dims).toEqual([1, CLASSES, SIZE, SIZE]);
      const expected = reference(values, "A", image);
      expect(maxError(out.data, expected)).toBeLessThan(tolerance);
      // and onnxruntime's output is not the anchor's: the rewrite did change the computation
      const anchor = reference(Object.fromEntries(net.description.tensors.map((t) => [t.name, t.values])), "A", image);
      expect(maxError(out.data, anchor)).toBeGreaterThan(tolerance);
    } finally {
      open.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
