import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { OutputBuffers } from "./outputBuffers";
import { OutputReducer } from "./outputReducer";
import { writeOnnxModel } from "../../core/formats/onnx/testing/onnxModelWriter";
import { colourNet } from "../testing/evalFixtures";

describe("output buffers", () => {
  it("hands a buffer it gave out again for its size only, within the byte bound; never a foreign, shared or detached one", () => {
    const pool = new OutputBuffers(100, 60_000);
    const a = pool.take(40);
    pool.give(a);
    pool.give(a); // twice: kept once
    expect(pool.heldBytes).toBe(40);
    expect(pool.take(32)).not.toBe(a);
    expect(pool.take(40)).toBe(a);
    expect(pool.take(40)).not.toBe(a); // none left: a new one
    expect(pool.heldBytes).toBe(0);
    pool.give(new ArrayBuffer(40)); // not one of the pool's (a copy onnxruntime made)
    expect(pool.heldBytes).toBe(0);
    pool.give(pool.take(60));
    pool.give(pool.take(60)); // the first given back is handed out again; then one over the bound
    const [b, c] = [pool.take(60), pool.take(60)];
    pool.give(b);
    pool.give(c); // over the bound: not kept
    expect(pool.heldBytes).toBe(60);
    pool.give(new SharedArrayBuffer(8));
    const detached = pool.take(8);
    structuredClone(detached, { transfer: [detached] });
    pool.give(detached);
    expect(pool.heldBytes).toBe(60);
    pool.clear();
  });

  it("lets go of everything once nothing was taken for the idle time", async () => {
    const pool = new OutputBuffers(1 << 20, 50);
    pool.give(pool.take(16));
    expect(pool.heldBytes).toBe(16);
    await new Promise((r) => setTimeout(r, 200));
    expect(pool.heldBytes).toBe(0);
  });
});

describe("a search session's outputs in recycled memory", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-outbuf-"));
  });
  afterAll(async () => {
    await OutputReducer.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // Identity 1×1 convolution, mean 0 and std 1: the logits are the image's own values, planar.
  const contract = { inputName: "image", width: 2, height: 2, resize: { mode: "FIXED" as const }, channelOrder: "RGB" as const, mean: [0, 0, 0], std: [1, 1, 1], outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" as const }] };
  const planar = (base: number) => [0, 1, 2].flatMap((c) => [0, 1, 2, 3].map((p) => base + p * 3 + c));

  it("runs into recycled memory and hands out onnxruntime's copy, which keeps its values and is never recycled", async () => {
    const file = path.join(dir, "colour.onnx");
    fs.writeFileSync(file, writeOnnxModel(colourNet()).bytes);
    const hook = path.resolve(__dirname, "..", "..", "..", "scripts", "ts-hook.js");
    const scenario = path.join(__dirname, "testing", "outputReuseScenario.ts");
    const worker = new Worker(`require(${JSON.stringify(hook)}); require(${JSON.stringify(scenario)});`, { eval: true, workerData: { file, contract } });
    const result = await new Promise<any>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    await worker.terminate();
    expect(result.error).toBeUndefined();
    // Every run's values are the image's own, planar, read right after the run and again after
    // all four: no later run writes into an earlier output.
    const values = [planar(10), planar(50), planar(90), planar(130)];
    expect(result.values).toEqual(values);
    expect(result.atEnd).toEqual(values);
    expect(result.distinctBuffers).toBe(4);
    // The first run of an input shape learns the output's shape; from the second on, the pool's
    // one buffer of the output's size (3 planes of 2 × 2 float32) is written and kept, and giving
    // an output back adds nothing (it is onnxruntime's copy, not the pool's memory).
    expect(result.sparePerRun).toEqual([0, 48, 48, 48]);
    expect(result.spareAfterGivingBack).toBe(48);
  });

  it("has the reducer thread reduce an output whose memory it takes and keeps", async () => {
    const data = Float32Array.from([0, 2, 0, 0, 0, 1]);
    const stats = await OutputReducer.get().reduce({ kind: "scores", map: { data, channels: 2, height: 1, width: 3 } }, { kind: "agreement", height: 1, width: 3, classes: 2, reference: Uint8Array.from([0, 1, 1]), ignoreIndex: 255 });
    // (label, prediction) counts: pixel 0 → class 0 (0 vs 0), pixel 1 → class 0 (2 vs 0), pixel 2 → class 1 (0 vs 1)
    expect([...stats]).toEqual([1, 1, 1, 2, 2, 1]);
    expect(data.byteLength).toBe(0); // transferred
  });
});
