/**
 * `npm run bench:neighbour`: how much a bare `session.run` of the 512² benchmark net (one intra-op
 * thread, the search's and evaluation's settings, a pre-allocated output) slows down while the
 * machine's other core is busy. The other core runs, in a worker thread, one of: nothing; a loop
 * that touches no memory (register arithmetic only); the INFO_MAX reduction of a 19 × 512² score
 * map (what a search's reducer thread does); the argmax of one (what evaluation's scoring and a
 * SCORE search do). Rounds alternate the four, so load changes fall on all alike; medians of
 * ms per run. The register-only loop separates sharing a physical core's execution units (vCPUs
 * that are one core's hyperthreads) from sharing caches and memory bandwidth; what the two real
 * reductions cost the model beyond it is the price of overlapping them with it, which a floor
 * measured with the other core idle does not pay. Env: BENCH_ROUNDS (default 5), BENCH_RUNS (runs per measurement, default 10);
 * writes bench/results/neighbour.json (another name with BENCH_RESULT).
 */
import * as os from "node:os";
import * as path from "node:path";
import * as fs from "node:fs";
import { Worker } from "node:worker_threads";
import * as ort from "onnxruntime-node";
import { buildBenchNet, CLASSES, SIZE } from "./benchNet";
import { openSession, sessionThreads } from "../src/runtime/openSession";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const LOADS = ["idle", "register-only loop", "INFO_MAX reduction", "argmax"] as const;
type Load = (typeof LOADS)[number];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A worker keeping the other core busy with `load` until terminated; resolves once it has started. */
async function neighbour(load: Load): Promise<Worker | null> {
  if (load === "idle") return null;
  const hook = path.resolve(__dirname, "..", "scripts", "ts-hook.js");
  const work =
    load === "register-only loop"
      ? "let z = 0; for (let i = 0; i < 2e7; i++) z += i * 1e-9; sink += z;"
      : load === "INFO_MAX reduction"
        ? "probabilityStats(scores, C, S * S, 'LOGITS');"
        : "semanticArgmax(scores, C, S, S);";
  const source = `
    require(${JSON.stringify(hook)});
    const { parentPort } = require("node:worker_threads");
    const { probabilityStats } = require(${JSON.stringify(path.resolve(__dirname, "..", "src", "core", "search", "imageStats.ts"))});
    const { semanticArgmax } = require(${JSON.stringify(path.resolve(__dirname, "..", "src", "core", "eval", "index.ts"))});
    const C = ${CLASSES}, S = ${SIZE};
    const scores = new Float32Array(C * S * S).map((_, i) => Math.sin(i * 0.37) * 4);
    let sink = 0;
    parentPort.postMessage("started");
    (function loop() { ${work} setImmediate(loop); })();`;
  const w = new Worker(source, { eval: true });
  await new Promise((resolve) => w.once("message", resolve));
  return w;
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "neighbour-bench-"));
  try {
    const { path: model } = buildBenchNet(path.join(dir, "net.onnx"), 1);
    const session = await openSession(model, sessionThreads(1));
    const input = new Float32Array(3 * SIZE * SIZE).map((_, i) => Math.sin(i * 0.001));
    const output = new ort.Tensor("float32", new Float32Array(CLASSES * SIZE * SIZE), [1, CLASSES, SIZE, SIZE]);
    const run = async (n: number) => {
      const t = performance.now();
      for (let i = 0; i < n; i++) await session.run({ image: new ort.Tensor("float32", input, [1, 3, SIZE, SIZE]) }, { logits: output });
      return (performance.now() - t) / n;
    };
    await run(5);
    const ms: Record<Load, number[]> = { idle: [], "register-only loop": [], "INFO_MAX reduction": [], argmax: [] };
    const load0 = os.loadavg().map((x) => x.toFixed(1)).join(" ");
    for (let round = 0; round < ROUNDS; round++) {
      for (const load of LOADS) {
        const w = await neighbour(load);
        await new Promise((r) => setTimeout(r, 300)); // the worker's first passes compiled
        ms[load].push(await run(RUNS));
        await w?.terminate();
      }
    }
    await session.release();
    console.log(`bare session.run of the 512² net (1 intra-op thread), ${ROUNDS} rounds × ${RUNS} runs, ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, load average ${load0} → ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}`);
    const idle = median(ms.idle);
    const out = path.join(__dirname, "results", process.env.BENCH_RESULT ?? "neighbour.json");
    const loads = Object.fromEntries(LOADS.map((l) => [l, { msPerRun: ms[l], median: median(ms[l]), ratioToIdle: median(ms[l]) / idle }]));
    fs.writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), cpus: os.cpus().length, model: os.cpus()[0]?.model.trim(), loadAverage: { before: load0, after: os.loadavg() }, rounds: ROUNDS, runsPerMeasurement: RUNS, loads }, null, 2) + "\n");
    for (const load of LOADS) console.log(`  other core: ${load.padEnd(20)} median ${median(ms[load]).toFixed(1)} ms/run (${ms[load].map((x) => x.toFixed(0)).join(" ")}): ${(median(ms[load]) / idle).toFixed(3)}× idle`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
