/**
 * A merge search candidate's fixed cost on the demo pool's small models (examples/demo; run
 * `python3 examples/demo/generate.py` first if examples/demo/models is empty): the merge plus
 * onnxruntime's session creation, the way the search made it before (merge written to a scratch
 * file, the session opened from the file, the file removed) against now (merge made in memory,
 * the session opened from the bytes). Both alternate in one process, so the machine's load
 * falls on both alike; figures are medians of wall and process CPU time per candidate.
 *
 * Env: BENCH_ROUNDS (default 60).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runMerge, type RunMergePayload } from "../src/threads/runMerge";
import { openSession, sessionThreads } from "../src/runtime/openSession";
import { parseModelFile } from "../src/core/formats/parseModelFile";
import { layoutOf } from "../src/core/structure/layout";

const DEMO = path.resolve(__dirname, "..", "examples", "demo", "models");
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 60);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timed(fn: () => Promise<void>): Promise<{ ms: number; cpuMs: number }> {
  const cpu = process.cpuUsage();
  const t = performance.now();
  await fn();
  const used = process.cpuUsage(cpu);
  return { ms: performance.now() - t, cpuMs: (used.user + used.system) / 1000 };
}

async function main() {
  const [anchor, contributor] = ["source-only.onnx", "augment.onnx"].map((f) => path.join(DEMO, f));
  if (!fs.existsSync(anchor)) throw new Error(`${anchor} is missing: run python3 examples/demo/generate.py`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "candidate-cost-"));
  // With the layouts recorded at registration, as the search passes them (no parse per candidate).
  const [anchorLayout, contributorLayout] = [anchor, contributor].map((f) => layoutOf(parseModelFile(f)));
  const payload = (outFile: string | null): RunMergePayload => ({
    anchor: { file: anchor, name: "anchor", layout: anchorLayout },
    contributors: [{ file: contributor, name: "contributor", layout: contributorLayout }],
    recipe: { method: "LAYERWISE", schedule: { kind: "LINEAR" }, weights: null, params: {} },
    outFile,
    scratch: true,
    metadata: {},
  });
  const threads = sessionThreads(1);
  const viaFile = async () => {
    const file = path.join(dir, "candidate.onnx");
    try {
      await runMerge(payload(file), () => undefined);
      await (await openSession(file, threads)).release();
    } finally {
      fs.rmSync(file, { force: true });
    }
  };
  const inMemory = async () => {
    const merged = await runMerge(payload(null), () => undefined);
    await (await openSession("candidate", threads, merged.bytes)).release();
  };
  try {
    // Warm-up: onnxruntime loaded, both paths compiled.
    for (let i = 0; i < 5; i++) {
      await viaFile();
      await inMemory();
    }
    const load = os.loadavg().map((x) => x.toFixed(2)).join(" ");
    const file: Array<{ ms: number; cpuMs: number }> = [];
    const memory: Array<{ ms: number; cpuMs: number }> = [];
    for (let r = 0; r < ROUNDS; r++) {
      // Alternating order, so neither path always runs first.
      if (r % 2 === 0) {
        file.push(await timed(viaFile));
        memory.push(await timed(inMemory));
      } else {
        memory.push(await timed(inMemory));
        file.push(await timed(viaFile));
      }
    }
    const f = { ms: median(file.map((x) => x.ms)), cpuMs: median(file.map((x) => x.cpuMs)) };
    const m = { ms: median(memory.map((x) => x.ms)), cpuMs: median(memory.map((x) => x.cpuMs)) };
    console.log(`merge + session creation per candidate (${path.basename(anchor)} + ${path.basename(contributor)}, ${ROUNDS} rounds, load average ${load} → ${os.loadavg().map((x) => x.toFixed(2)).join(" ")})`);
    console.log(`  scratch file: ${f.ms.toFixed(1)} ms wall, ${f.cpuMs.toFixed(1)} ms CPU (medians)`);
    console.log(`  in memory:    ${m.ms.toFixed(1)} ms wall, ${m.cpuMs.toFixed(1)} ms CPU (medians)`);
    console.log(`  in memory / scratch file: wall ${(m.ms / f.ms).toFixed(2)} ×, CPU ${(m.cpuMs / f.cpuMs).toFixed(2)} ×`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
