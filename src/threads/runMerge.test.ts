import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { assembleSafetensors } from "../core/formats/safetensors/testing/writeSafetensors";
import { runMerge } from "./runMerge";

/**
 * runMerge end to end on safetensors files with tensors larger than the file sink's batch and the
 * merge's chunk, so the whole fast path runs: positional reads into the kernels' buffers, the
 * next tensor's read started early, recycled output buffers and background writes. The expected
 * bytes come from a plain float32 loop over the inputs (UNIFORM, N = 3: w = fround(1/3) each).
 */
describe("runMerge on files", () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "run-merge-"))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  // 1.1M elements (4.4 MB: over the sink's 4 MiB batch, and two 2^20-element chunks), 300k and 7,
  // so recycled buffers of one size serve the next tensors of another.
  const sizes = [1_100_000, 7, 300_000, 1_100_000, 7, 300_000];
  const names = sizes.map((_, i) => `layer${i}.weight`);

  function values(model: number, tensor: number, n: number): Float32Array {
    const out = new Float32Array(n);
    let x = (model * 7919 + tensor * 104729) >>> 0;
    for (let i = 0; i < n; i++) {
      x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
      out[i] = (x / 2 ** 32 - 0.5) * (1 + tensor);
    }
    return out;
  }

  function writeModel(model: number): string {
    const header: Record<string, unknown> = {};
    let offset = 0;
    sizes.forEach((n, i) => {
      header[names[i]] = { dtype: "F32", shape: [n], data_offsets: [offset, offset + 4 * n] };
      offset += 4 * n;
    });
    const data = new Uint8Array(offset);
    let at = 0;
    sizes.forEach((n, i) => {
      data.set(new Uint8Array(values(model, i, n).buffer), at);
      at += 4 * n;
    });
    const file = path.join(dir, `m${model}.safetensors`);
    fs.writeFileSync(file, assembleSafetensors(JSON.stringify(header), data));
    return file;
  }

  it("writes, for every tensor, fround(fround(w·a) + fround(w·b) + fround(w·c)) in the anchor's layout", async () => {
    const files = [0, 1, 2].map(writeModel);
    const outFile = path.join(dir, "merged.safetensors");
    const progress: number[] = [];
    const result = await runMerge(
      {
        anchor: { file: files[0], name: "a" },
        contributors: [{ file: files[1], name: "b" }, { file: files[2], name: "c" }],
        recipe: { method: "LAYERWISE", schedule: { kind: "UNIFORM" }, weights: null, params: {} },
        outFile,
        metadata: {},
      },
      (p) => progress.push(p.fraction),
    );
    expect(result.mergedCount).toBe(sizes.length);
    expect(progress[progress.length - 1]).toBe(1);
    expectMerged(fs.readFileSync(outFile), files);
  });

  it("returns the same bytes when the output goes to memory (outFile null), and writes no file", async () => {
    const files = [0, 1, 2].map(writeModel);
    const before = fs.readdirSync(dir).sort();
    const result = await runMerge(
      {
        anchor: { file: files[0], name: "a" },
        contributors: [{ file: files[1], name: "b" }, { file: files[2], name: "c" }],
        recipe: { method: "LAYERWISE", schedule: { kind: "UNIFORM" }, weights: null, params: {} },
        outFile: null,
        metadata: {},
      },
      () => undefined,
    );
    expect(fs.readdirSync(dir).sort()).toEqual(before);
    expect(result.bytes).toBeDefined();
    expect(result.outputBytes).toBe(result.bytes!.byteLength);
    expectMerged(Buffer.from(result.bytes!.buffer, result.bytes!.byteOffset, result.bytes!.byteLength), files);
  });

  function expectMerged(merged: Buffer, files: string[]): void {
    const anchor = fs.readFileSync(files[0]);
    const dataStart = 8 + Number(anchor.readBigUInt64LE(0));
    // no metadata given: the anchor's header is kept byte for byte
    expect(merged.subarray(0, dataStart).equals(anchor.subarray(0, dataStart))).toBe(true);
    const w = Math.fround(1 / 3);
    let at = dataStart;
    sizes.forEach((n, i) => {
      const [a, b, c] = [0, 1, 2].map((m) => values(m, i, n));
      const expected = new Float32Array(n);
      for (let k = 0; k < n; k++) expected[k] = Math.fround(Math.fround(Math.fround(w * a[k]) + Math.fround(w * b[k])) + Math.fround(w * c[k]));
      const got = merged.subarray(at, at + 4 * n);
      if (!got.equals(new Uint8Array(expected.buffer))) throw new Error(`tensor ${names[i]} differs from the float32 loop`);
      at += 4 * n;
    });
    expect(at).toBe(merged.length);
  }
});

/**
 * An ONNX anchor's records are kept per thread between merges: the same anchor merged again gives
 * the same bytes, and an anchor file replaced at the same path (other tensors' offsets, other
 * values) is read again. Expected values by hand: UNIFORM over two models, w = ½, so each merged
 * value is fround(½a) + fround(½b), exact for these small integers.
 */
describe("runMerge on ONNX anchors merged again", () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "run-merge-onnx-"))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { writeOnnxModel } = require("../core/formats/onnx/testing/onnxModelWriter") as typeof import("../core/formats/onnx/testing/onnxModelWriter");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { parseOnnx } = require("../core/formats/onnx") as typeof import("../core/formats/onnx");

  function model(file: string, w: number[], b: number[], producer = "t"): string {
    const bytes = writeOnnxModel({
      producerName: producer,
      inputs: [{ name: "x", dtype: "F32", shape: [1, w.length] }],
      outputs: [{ name: "y", dtype: "F32", shape: [1, w.length] }],
      nodes: [
        { opType: "Mul", inputs: ["x", "w"], outputs: ["m"] },
        { opType: "Add", inputs: ["m", "b"], outputs: ["y"] },
      ],
      initializers: [
        { name: "w", dtype: "F32", dims: [w.length], values: w },
        { name: "b", dtype: "F32", dims: [b.length], values: b },
      ],
    }).bytes;
    fs.writeFileSync(file, bytes);
    return file;
  }

  async function merged(anchor: string, other: string): Promise<Record<string, number[]>> {
    const result = await runMerge(
      {
        anchor: { file: anchor, name: "a" },
        contributors: [{ file: other, name: "b" }],
        recipe: { method: "LAYERWISE", schedule: { kind: "UNIFORM" }, weights: null, params: {} },
        outFile: null,
        metadata: {},
      },
      () => undefined,
    );
    const bytes = result.bytes!;
    const parsed = parseOnnx({ size: bytes.byteLength, read: (o: number, n: number) => bytes.subarray(o, o + n) } as never);
    return Object.fromEntries(
      parsed.tensors.map((t) => {
        const loc = t.location as { kind: "raw"; offset: number; length: number };
        return [t.name, Array.from(new Float32Array(Uint8Array.from(bytes.subarray(loc.offset, loc.offset + loc.length)).buffer))];
      }),
    );
  }

  it("gives the same bytes again, and reads an anchor replaced at the same path afresh", async () => {
    const anchor = path.join(dir, "anchor.onnx");
    const other = model(path.join(dir, "other.onnx"), [4, 6, 8], [10, 20]);
    model(anchor, [2, 2, 2], [0, 4]);
    expect(await merged(anchor, other)).toEqual({ w: [3, 4, 5], b: [5, 12] });
    expect(await merged(anchor, other)).toEqual({ w: [3, 4, 5], b: [5, 12] });
    // A longer producer name moves every tensor's data: stale records would read the wrong bytes.
    model(anchor, [0, 2, 4], [2, 2], "a much longer producer name than before");
    expect(await merged(anchor, other)).toEqual({ w: [2, 4, 6], b: [6, 11] });
  });
});
