/**
 * `npm run bench:merge`: merge wall time, throughput, peak RSS and the
 * ratio to an I/O floor measured in the same run, for every input format, N = 2, 3 and 4 models.
 *
 *   node scripts/bench-merge.js [--formats a,b] [--n 2,3,4] [--repeats N] [--cold] [--keep] [--dir PATH] [--direct] [--reparse] [--no-jobs]
 *
 * Models are built in code in a temp folder (bench/mergeModels.ts), 4 per format, every file
 * ≥ 100 MB, all four sharing one structure:
 * - fp32 formats (ONNX initializers / Constant nodes / float_data): a DeepLabV3-style model on a
 *   ResNet-50 backbone, 309 tensors from 3×3 ASPP convolutions (2.4M elements) down to biases.
 * - 16-bit formats (ONNX fp16, safetensors bf16): the same on ResNet-101, 564 tensors, so the
 *   files stay ≥ 100 MB at 2 bytes an element.
 * Values are built from random bits with bounded exponents, so every value is finite.
 *
 * Each case (format × N, LAYERWISE / LINEAR, anchor + N−1 contributors) runs `runMerge` in a
 * worker thread through ThreadPool, as the registry does (`--direct`: on this thread), with the
 * inputs' layouts parsed beforehand, as the registry records them at registration and passes
 * them to its merges (`--reparse`: the worker parses every input again, timed), and hashing its
 * output while writing it, as a merge job does. The I/O
 * floor (bench/mergeFloor.ts) does the merge's reads and writes with the same overlap and no
 * arithmetic: every input read once, in 4 MiB chunks, all inputs' next chunks in flight while
 * the current one is written through the product's file sink with the merge's settings
 * (background writes, fdatasync every 32 MiB, fsync on close). Each of `--repeats` repetitions
 * runs the floor (both read strategies; the faster counts), the merge, the job and the numpy
 * script, one after the other; the report gives every timing's median and min–max, and the
 * ratios as the median (min–max) of the repetitions' own ratios (bench/mergeReport.ts). The CPU
 * time (user + system, all threads) of the median runs and the load average at the case's start
 * and end are printed beside them, because on a shared machine wall times move with the load. Peak RSS is
 * sampled every 2 ms on the main thread (worker threads share the process) and read as VmHWM
 * after resetting it through /proc/self/clear_refs; both are reported above the idle process
 * (pool worker started, nothing in flight) and above the process before its first merge; the
 * row shows the largest of these ("RSS+"), whose second form which also counts the ~20 MiB of working memory (accumulator and
 * output slots) that a worker thread keeps for its next merge. The first merge on a worker also
 * pays for that memory's first touches; later runs show the steady state of a long-lived worker.
 *
 * Then (unless `--no-jobs`) the same merge as a registry job, created → finished, on a
 * `layermerge serve` process (bench/mergeJobs.ts), and a numpy + onnx script on the
 * same files (bench/mergeNumpy.py, /usr/bin/python3, process wall time) in every repetition;
 * target: the script ≥ 20 × the job.
 *
 * Page cache: "warm" — inputs were just written and read once more before timing, so every read
 * is served from memory. With `--cold`, every floor and merge run is preceded by
 * `sync; echo 3 > /proc/sys/vm/drop_caches` (as are the job and the numpy script; needs root and a writable /proc/sys; the report says
 * whether it worked) and results go to merge-cold.json instead of merge.json. On a virtual
 * machine whose host caches the disk, even "cold" reads come from the host's memory: the floor
 * then runs at memory speed and the ratio measures the merge's CPU cost over a memcpy.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ThreadPool } from "../src/threads/threadPool";
import type { RunMergePayload } from "../src/threads/runMerge";
import { parseModelFile } from "../src/core/formats/parseModelFile";
import { layoutOf } from "../src/core/structure/layout";
import type { ParsedModel } from "../src/core/structure/types";
import { overlappedIoFloor, type FloorReads } from "./mergeFloor";
import { numpyMergeSeconds, startJobServer, type JobServer } from "./mergeJobs";
import { ensureModels, FORMATS, STRUCTURES, type FormatName } from "./mergeModels";
import { gc, readAll, resetPeak, syncAndDrop, timedMerge, type MergeRun } from "./mergeMeasure";
import { formatRow, HEADER, MB, MIB, missesTargets, saveResults, spread, TARGET_RATIO, type CaseResult } from "./mergeReport";

interface Options {
  formats: FormatName[];
  repeats: number;
  cold: boolean;
  keep: boolean;
  dir?: string;
  direct: boolean;
  reparse: boolean;
  /** Also time registry jobs and the numpy + onnx script (`--no-jobs`: not). */
  jobs: boolean;
  /** Model counts merged per format (anchor included), each 2..4. */
  counts: number[];
}

function parseArgs(argv: string[]): Options {
  const options: Options = { formats: FORMATS.map((f) => f.name), repeats: 5, cold: false, keep: false, direct: false, reparse: false, jobs: true, counts: [2, 3, 4] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === "--formats") {
      const names = value().split(",");
      for (const n of names) if (!FORMATS.some((f) => f.name === n)) throw new Error(`unknown format ${n}; one of ${FORMATS.map((f) => f.name).join(", ")}`);
      options.formats = names as FormatName[];
    } else if (arg === "--repeats") options.repeats = Math.max(1, Number.parseInt(value(), 10) || 1);
    else if (arg === "--cold") options.cold = true;
    else if (arg === "--keep") options.keep = true;
    else if (arg === "--dir") options.dir = value();
    else if (arg === "--direct") options.direct = true;
    else if (arg === "--reparse") options.reparse = true;
    else if (arg === "--no-jobs") options.jobs = false;
    else if (arg === "--n") {
      options.counts = value().split(",").map((v) => Number.parseInt(v, 10));
      if (options.counts.some((n) => !(n >= 2 && n <= 4))) throw new Error("--n takes model counts from 2 to 4, comma-separated");
    } else throw new Error(`unknown option ${arg}`);
  }
  return options;
}

/** The run whose time is the median of the series (for its CPU time). */
function medianRun<T extends { ms: number }>(runs: T[]): T {
  const sorted = [...runs].sort((a, b) => a.ms - b.ms);
  return sorted[(sorted.length - 1) >> 1];
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "layermerge-bench-merge-"));
  fs.mkdirSync(dir, { recursive: true });
  const canResetPeak = resetPeak();
  let cold = false;
  if (options.cold) {
    cold = syncAndDrop();
    if (!cold) console.log("--cold: cannot write /proc/sys/vm/drop_caches here; running warm only");
  }
  const pool = options.direct ? null : new ThreadPool(1);
  const jobs: JobServer | null = options.jobs ? await startJobServer(dir) : null;
  const results: CaseResult[] = [];
  try {
    if (pool) await pool.run("sleep", { ms: 0 }); // start the worker (and its compiler) before measuring idle
    gc();
    const startRss = process.memoryUsage.rss();
    for (const format of FORMATS.filter((f) => options.formats.includes(f.name))) {
      const tensorCount = STRUCTURES[format.structure].reduce((s, l) => s + l.params.length, 0);
      const g0 = performance.now();
      const files = ensureModels(format, dir);
      const sizes = files.map((f) => fs.statSync(f).size);
      console.log(`${format.describe}: 4 × ${(sizes[0] / MB).toFixed(1)} MB, ${tensorCount} tensors, built in ${((performance.now() - g0) / 1000).toFixed(1)} s`);
      // What registration records as the artifact's layout.
      const modelIds: string[] = [];
      if (jobs) {
        // Building the files held this thread for seconds: let the loop see the server close the
        // idle keep-alive connection first, or the next request is sent on the dead socket.
        await new Promise((r) => setTimeout(r, 20));
        for (const f of files) modelIds.push(await jobs.register(f));
      }
      const layouts: Array<ParsedModel | null> = files.map((f) => (options.reparse ? null : layoutOf(parseModelFile(f))));
      for (const n of options.counts) {
        const inputs = files.slice(0, n);
        const outFile = path.join(dir, `merged-${format.name}-${n}.${format.ext}`);
        const payload: RunMergePayload = {
          anchor: { file: inputs[0], name: path.basename(inputs[0]), layout: layouts[0] },
          contributors: inputs.slice(1).map((f, i) => ({ file: f, name: path.basename(f), layout: layouts[i + 1] })),
          recipe: { method: "LAYERWISE", schedule: { kind: "LINEAR" }, weights: null, params: {} },
          outFile,
          hash: true,
          metadata: { "layermerge.method": "LAYERWISE", "layermerge.schedule": JSON.stringify({ kind: "LINEAR" }) },
        };
        const floorFile = path.join(dir, `floor-${format.name}-${n}.tmp`);
        if (!cold) readAll(inputs);
        const merges: MergeRun[] = [];
        const floors: Array<{ ms: number; cpuMs: number; reads: FloorReads }> = [];
        const jobRuns: Array<{ ms: number; queuedMs: number }> = [];
        const numpyRuns: number[] = [];
        const loadStart = os.loadavg()[0];
        for (let r = 0; r < options.repeats; r++) {
          fs.rmSync(outFile, { force: true });
          // The floor writes as many bytes as the merge does; before the first merge, the anchor's size.
          const pair: Array<{ ms: number; cpuMs: number; reads: FloorReads }> = [];
          for (const reads of ["concurrent", "sync"] as const) {
            if (cold) syncAndDrop();
            pair.push(await overlappedIoFloor(inputs, floorFile, merges[0]?.result.outputBytes ?? sizes[0], reads));
          }
          floors.push(pair[0].ms <= pair[1].ms ? pair[0] : pair[1]);
          if (cold) syncAndDrop();
          merges.push(await timedMerge(pool, payload, canResetPeak));
          if (jobs) {
            if (cold) syncAndDrop();
            const job = await jobs.mergeSeconds(modelIds[0], modelIds.slice(1, n));
            jobRuns.push({ ms: 1000 * job.total, queuedMs: 1000 * job.queued });
            if (cold) syncAndDrop();
            numpyRuns.push(1000 * (await numpyMergeSeconds(inputs, path.join(dir, `numpy-${format.name}-${n}.${format.ext}`))));
          }
        }
        fs.rmSync(outFile, { force: true });
        const inputBytes = sizes.slice(0, n).reduce((a, b) => a + b, 0);
        const mergeMs = spread(merges.map((m) => m.ms));
        const peakSampled = Math.max(...merges.map((m) => m.peakRssSampled - m.idleRss));
        const peakHwm = canResetPeak ? Math.max(...merges.map((m) => m.peakRssHwm - m.idleRss)) : null;
        const peakAboveStart = Math.max(...merges.map((m) => (canResetPeak ? Math.max(m.peakRssHwm, m.peakRssSampled) : m.peakRssSampled) - startRss));
        const jobMs = jobRuns.length ? spread(jobRuns.map((j) => j.ms)) : null;
        const row: CaseResult = {
          format: format.name,
          dtype: format.dtype,
          n,
          tensors: tensorCount,
          fileBytes: sizes[0],
          inputBytes,
          outputBytes: merges[0].result.outputBytes,
          mergedTensors: merges[0].result.mergedCount,
          copiedTensors: merges[0].result.copiedCount,
          mergeMs,
          floorMs: spread(floors.map((f) => f.ms)),
          floorReads: floors.map((f) => f.reads),
          ratio: spread(merges.map((m, i) => m.ms / floors[i].ms)),
          mergeCpuMs: medianRun(merges).cpuMs,
          floorCpuMs: medianRun(floors).cpuMs,
          throughputMBps: inputBytes / MB / (mergeMs.median / 1000),
          loadAverage: [loadStart, os.loadavg()[0]],
          idleRssMiB: merges[0].idleRss / MIB,
          peakRssAboveIdleMiB: peakSampled / MIB,
          peakRssHwmAboveIdleMiB: peakHwm === null ? null : peakHwm / MIB,
          peakRssAboveStartMiB: peakAboveStart / MIB,
          jobMs,
          jobQueuedMs: jobRuns.length ? spread(jobRuns.map((j) => j.queuedMs)) : null,
          numpyMs: numpyRuns.length ? spread(numpyRuns) : null,
          numpyRatio: numpyRuns.length ? spread(numpyRuns.map((ms, i) => ms / jobRuns[i].ms)) : null,
          cache: cold ? "cold" : "warm",
        };
        results.push(row);
        console.log(formatRow(row));
      }
      if (!options.keep && !options.dir) for (const f of files) fs.rmSync(f, { force: true });
    }
  } finally {
    await pool?.close();
    await jobs?.close();
    if (!options.keep && !options.dir) fs.rmSync(dir, { recursive: true, force: true });
  }

  console.log("");
  console.log(
    `page cache: ${cold ? "cold (caches dropped before every floor, merge, job and numpy run)" : "warm (inputs just written and read once before timing)"}; ${options.direct ? "merge on the main thread" : "merge in a worker thread (ThreadPool)"}; ${options.repeats} repetitions; target merge/floor ≤ ${TARGET_RATIO}, numpy/job ≥ 20 (medians)`,
  );
  console.log(HEADER);
  for (const r of results) console.log(formatRow(r));
  const failures = results.filter(missesTargets);
  console.log(failures.length === 0 ? "all targets met" : `targets missed: ${failures.map((r) => `${r.format} N=${r.n}`).join(", ")}`);
  const out = saveResults(
    results,
    {
      pageCache: cold ? "cold" : "warm",
      coldRequested: options.cold,
      dropCachesWorked: cold,
      vmHwmReset: canResetPeak,
      runner: options.direct ? "direct" : "worker-thread",
      layouts: options.reparse ? "parsed in the timed merge" : "recorded beforehand, as at registration",
      repeats: options.repeats,
      floor: "overlapped: all inputs read concurrently while the output goes through the merge's file sink (background writes, fdatasync every 32 MiB, fsync on close)",
    },
    cold,
  );
  console.log(`saved ${path.relative(process.cwd(), out)}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
