import * as fs from "node:fs";
import * as path from "node:path";
import { ThreadPool } from "../../src/threads/threadPool";
import { writeModel, writeSemanticSample } from "../../src/runtime/testing/evalFixtures";
import type { TestModel } from "../../src/core/formats/onnx/testing/onnxModelWriter";

/*
 * Run as a process of its own by nativeThreadCancel.test.ts (a thread terminated inside
 * onnxruntime aborts the whole process, which must not be jest's). Argument: a scratch folder.
 * Cancels an evaluation while onnxruntime runs an image, runs the pool's next jobs, then closes
 * the pool while another evaluation runs; prints one JSON line of what it saw.
 */
const SIZE = 192;
const CHANNELS = 24;

/** A chain of 3×3 convolutions (3 → 24 → 24 → 24 → 3): some hundreds of milliseconds per image on one thread. */
function slowNet(): TestModel {
  let s = 7;
  const r = () => ((s = (s * 16807) % 2147483647) / 2147483647 - 0.5) * 0.2;
  const widths = [3, CHANNELS, CHANNELS, CHANNELS, 3];
  const nodes: TestModel["nodes"] = [];
  const initializers: TestModel["initializers"] = [];
  for (let l = 0; l + 1 < widths.length; l++) {
    const name = `conv${l}`;
    const [cin, cout] = [widths[l], widths[l + 1]];
    nodes.push({
      opType: "Conv",
      name,
      inputs: [l === 0 ? "image" : `x${l}`, `${name}.weight`, `${name}.bias`],
      outputs: [l + 2 === widths.length ? "logits" : `x${l + 1}`],
      attributes: [{ name: "kernel_shape", ints: [3, 3] }, { name: "pads", ints: [1, 1, 1, 1] }],
    });
    initializers.push({ name: `${name}.weight`, dtype: "F32", dims: [cout, cin, 3, 3], values: Array.from({ length: cout * cin * 9 }, r) });
    initializers.push({ name: `${name}.bias`, dtype: "F32", dims: [cout], values: Array.from({ length: cout }, r) });
  }
  return { inputs: [{ name: "image", dtype: "F32", shape: ["N", 3, "H", "W"] }], outputs: [{ name: "logits", dtype: "F32", shape: ["N", 3, "H", "W"] }], nodes, initializers };
}

async function main() {
  const dir = process.argv[2];
  const model = writeModel(path.join(dir, "slow.onnx"), slowNet());
  const data = path.join(dir, "data");
  for (let i = 0; i < 6; i++) {
    const rgb = Array.from({ length: SIZE * SIZE * 3 }, (_, k) => (k * 31 + i * 17) % 256);
    await writeSemanticSample(data, `img${i}`, SIZE, SIZE, rgb, Array.from({ length: SIZE * SIZE }, (_, k) => k % 3));
  }
  const payload = {
    modelPath: model,
    contract: { inputName: "image", width: SIZE, height: SIZE, resize: { mode: "FIXED" }, channelOrder: "RGB", mean: [0, 0, 0], std: [255, 255, 255], outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" }] },
    dataset: { format: "SEMANTIC_PNG", location: data, classes: [0, 1, 2].map((id) => ({ id, name: `c${id}`, isThing: false })) },
    task: "SEMANTIC",
    threads: 1,
  } as never;
  const pool = new ThreadPool(1);
  const seen: Record<string, unknown> = {};

  // 1. Cancelled after its first image: onnxruntime is then running the second.
  const controller = new AbortController();
  let images = 0;
  let cancelledAt = 0;
  const first = pool.run("evaluate", payload, {
    signal: controller.signal,
    onProgress: () => {
      images++;
      if (images === 1) {
        cancelledAt = Date.now();
        controller.abort();
      }
    },
  });
  seen.cancel = await first.then(() => "resolved", (e: { code?: string }) => e.code ?? String(e));
  seen.cancelMs = Date.now() - cancelledAt;
  seen.imagesAfterCancel = images - 1;

  // 2. The pool goes on: a whole evaluation on the same pool.
  const whole = (await pool.run("evaluate", payload)) as { images?: number; score?: number };
  seen.next = whole.images === 6 && typeof whole.score === "number" ? "evaluated" : JSON.stringify(whole).slice(0, 200);

  // 3. Closed while onnxruntime runs: the pool asks the thread to stop and the process ends normally.
  let started = false;
  const last = pool.run("evaluate", payload, { onProgress: () => (started = true) }).then(() => "resolved", (e: Error) => e.message);
  while (!started) await new Promise((r) => setTimeout(r, 5));
  await pool.close();
  seen.closed = await last;
  fs.writeSync(1, JSON.stringify(seen) + "\n");
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
