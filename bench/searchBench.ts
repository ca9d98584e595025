/**
 * `npm run bench:search`: what a merge search buys over scoring candidates one by one through
 * the API, and how close it comes to onnxruntime's own speed. One process, one run:
 *
 * 1. Demo pool (examples/demo: five semantic models, the labelled target val split): a GRID
 *    search of merges only (`includeSingles: false`, `keep: NONE`) with objective SCORE against
 *    the naive path — each recipe through `startMerge`, then `startEvaluation` on the same
 *    labelled images, then `deleteModel` — for a sample of the search's own recipes (fresh: each
 *    is merged once). Runs search, naive, search so a load change on the shared machine hits
 *    both sides, after an uncounted warm-up of both (a 40-candidate search and three naive
 *    recipes: a running server has compiled its hot code, while on a cold one V8's optimizing
 *    compiler threads share the two cores with the first searches).
 *    Both sides are timed from their mutation to their jobs' finishedAt, as a client told at once
 *    of a job's end (the jobs subscription) would wait; the naive path is its merge job plus its
 *    evaluation job, each from its mutation (this script polls, and its polling interval is
 *    counted on neither side). Target: candidates/minute ≥ 10 × the naive path's. The naive path's
 *    evaluation scores must equal the search's SCORE objective for the same recipe.
 * 2. 512² benchmark net (bench/benchNet.ts, 4.4 GFLOPs/image; a pool of nets with other
 *    seeds): a search per objective kind against the onnxruntime floor, candidates × images ×
 *    one bare `session.run` on pre-decoded tensors with the search's session settings
 *    (1 intra-op thread, no spinning), measured just before and after each search in the same
 *    process. Target: search wall time ≤ 1.2 × floor. Also process CPU time (all threads) of
 *    the search against the floor's, which contention inflates less.
 *
 * Peak RSS of the process (the API, the job runner and the worker threads all live in it).
 * Everything runs on a temporary SQLite database and store, removed at the end (the API cannot
 * remove a soft-deleted model's artifact, so that is how the naive path's merges go).
 *
 * The demo part runs with the product's defaults: a search scores as many candidates at once as
 * the machine has cores (LAYERMERGE_SEARCH_THREADS; BENCH_SEARCH_THREADS sets it), while the naive
 * path's evaluation uses its own default of cores − 1 intra-op threads. The 512² part runs its
 * searches on BENCH_NET_THREADS candidate threads (default 1), the floor being one bare session.
 *
 * Env: BENCH_WORKERS (jobs at once, LAYERMERGE_JOB_CONCURRENCY, default 1), BENCH_SEARCH_THREADS,
 * BENCH_NET_THREADS (default 1), BENCH_DEMO_IMAGES (default 50, the split),
 * BENCH_DEMO_CANDIDATES (search budget, default 100), BENCH_NAIVE (naive recipes, default 10,
 * half before and half after the middle search), BENCH_WARMUP_CANDIDATES (default 40),
 * BENCH_WARMUP_NAIVE (default 3), BENCH_NET_IMAGES (default 20), BENCH_NET_MODELS
 * (pool size, default 3), BENCH_NET_CANDIDATES (default 12), BENCH_NET_OBJECTIVES (default
 * SCORE,INFO_MAX), BENCH_SKIP_DEMO / BENCH_SKIP_NET. Writes bench/results/search.json (another
 * name under bench/results with BENCH_RESULT).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execSync } from "node:child_process";
import * as ort from "onnxruntime-node";
import { preprocessImage } from "../src/core/eval";
import { SharpDecoder } from "../src/imaging/sharpDecoder";
import { openSession, sessionThreads } from "../src/runtime";
import { startTestServer, type TestServer } from "../test/support/testServer";
import { upload } from "../test/support/http";
import { BENCH_NET_CONTRACT, buildBenchNet, CLASSES, SIZE, writeBenchImages } from "./benchNet";

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const WORKERS = env("BENCH_WORKERS", 1);
const SEARCH_THREADS = process.env.BENCH_SEARCH_THREADS;
const NET_THREADS = env("BENCH_NET_THREADS", 1);
const DEMO_IMAGES = env("BENCH_DEMO_IMAGES", 50);
const DEMO_CANDIDATES = env("BENCH_DEMO_CANDIDATES", 100);
const NAIVE = env("BENCH_NAIVE", 10);
const WARMUP_CANDIDATES = env("BENCH_WARMUP_CANDIDATES", 40);
const WARMUP_NAIVE = env("BENCH_WARMUP_NAIVE", 3);
const NET_IMAGES = env("BENCH_NET_IMAGES", 20);
const NET_MODELS = env("BENCH_NET_MODELS", 3);
const NET_CANDIDATES = env("BENCH_NET_CANDIDATES", 12);
const NET_OBJECTIVES = (process.env.BENCH_NET_OBJECTIVES ?? "SCORE,INFO_MAX").split(",").map((s) => s.trim()).filter(Boolean);
const TARGETS = { demoSpeedup: 10, netFloorRatio: 1.2 };

const DEMO = path.resolve(__dirname, "..", "examples", "demo");
const DEMO_POOL = ["selftrain", "source-only", "augment", "selftrain-ckpt", "fcn-head"];

const load = () => os.loadavg().map((x) => Math.round(x * 100) / 100);
const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

interface SearchRun {
  objective: string;
  candidates: number;
  images: number;
  /** startMergeSearch to the job's finishedAt (as a client told at once of its end sees it). */
  wallSeconds: number;
  /** The startMergeSearch round trip alone (validation and the whole plan, keyed, before the job is queued). */
  startMutationSeconds: number;
  /** The job's createdAt → startedAt. */
  queuedSeconds: number;
  /** The job's own startedAt → finishedAt. */
  jobSeconds: number;
  /** Sum of the candidates' own times on their threads (merge + scoring). */
  candidateSeconds: number;
  cpuSeconds: number;
  candidatesPerMinute: number;
  loadavg: number[];
}

async function waitJob(server: TestServer, id: string, everyMs = 100): Promise<any> {
  for (;;) {
    const { job } = await server.ok(`query($id: ID!) { job(id: $id) { id status error createdAt startedAt finishedAt model { id } } }`, { id });
    if (job.status !== "QUEUED" && job.status !== "RUNNING") {
      if (job.status !== "SUCCEEDED") throw new Error(`job ${id} ${job.status}: ${job.error}`);
      return job;
    }
    // The client shares the process (and its CPU time) with the jobs it times; times are taken
    // from the job's finishedAt, so the interval only sets how much CPU the polling takes.
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Seconds from `startedAtMs` (Date.now() before the first mutation) to the job's finishedAt: the
 * time a client told at once (the jobs subscription) would see, without the polling interval of
 * this script's own loop. Server and client share this process's clock.
 */
const secondsUntilFinished = (job: { finishedAt: string }, startedAtMs: number) => (Date.parse(job.finishedAt) - startedAtMs) / 1000;

async function runSearch(server: TestServer, input: Record<string, unknown>): Promise<{ run: SearchRun; nodes: any[] }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const started = Date.now();
  const { startMergeSearch } = await server.ok(`mutation($i: MergeSearchInput!) { startMergeSearch(input: $i) { id } }`, { i: input });
  const startMutationSeconds = (performance.now() - t0) / 1000;
  const job = await waitJob(server, startMergeSearch.id, 500);
  const wallSeconds = secondsUntilFinished(job, started);
  const cpuSeconds = cpuMs(process.cpuUsage(cpu0)) / 1000;
  const { job: j } = await server.ok(`query($id: ID!) { job(id: $id) { mergeSearch { id candidates(first: 500) { totalCount edges { node { key objective isSingle recipe seconds } } } } } }`, { id: job.id });
  const nodes = j.mergeSearch.candidates.edges.map((e: any) => e.node);
  await server.ok(`mutation($id: ID!) { deleteMergeSearch(id: $id) }`, { id: j.mergeSearch.id });
  const objective = (input.objective as { kind: string; limit: number }).kind;
  return {
    nodes,
    run: {
      objective,
      candidates: nodes.length,
      images: (input.objective as { limit: number }).limit,
      wallSeconds,
      startMutationSeconds,
      queuedSeconds: (Date.parse(job.startedAt) - Date.parse(job.createdAt)) / 1000,
      jobSeconds: (Date.parse(job.finishedAt) - Date.parse(job.startedAt)) / 1000,
      candidateSeconds: nodes.reduce((a: number, n: any) => a + n.seconds, 0),
      cpuSeconds,
      candidatesPerMinute: (nodes.length * 60) / wallSeconds,
      loadavg: load(),
    },
  };
}

async function registerPool(server: TestServer, taskId: string, files: Array<{ name: string; file: string; inference: unknown }>): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  for (const m of files) {
    const { body } = await upload(server.origin, fs.readFileSync(m.file));
    ids[m.name] = (await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: m.name, taskId, artifactSha256: body.sha256, inference: m.inference } })).registerModel.id;
  }
  return ids;
}

/** One recipe the slow way: a merge job, a registered model, an evaluation job, then the model is deleted. */
async function naiveCandidate(server: TestServer, recipe: any, datasetId: string, limit: number) {
  const mergeStarted = Date.now();
  const input = Object.fromEntries(Object.entries({ anchorId: recipe.anchorId, modelIds: recipe.modelIds, method: recipe.method, schedule: recipe.schedule, weights: recipe.weights, baseModelId: recipe.baseModelId }).filter(([, v]) => v !== null && v !== undefined));
  const { startMerge } = await server.ok(`mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, { i: input });
  const merged = await waitJob(server, startMerge.id);
  const evaluationStarted = Date.now();
  const { startEvaluation } = await server.ok(`mutation($i: StartEvaluationInput!) { startEvaluation(input: $i) { id } }`, { i: { modelId: merged.model.id, datasetId, limit } });
  const evaluated = await waitJob(server, startEvaluation.id);
  const { job } = await server.ok(`query($id: ID!) { job(id: $id) { evaluation { score } } }`, { id: startEvaluation.id });
  // Each job as a client told at once of its end would wait for it (not this loop's polling).
  const seconds = secondsUntilFinished(merged, mergeStarted) + secondsUntilFinished(evaluated, evaluationStarted);
  const t1 = performance.now();
  await server.ok(`mutation($id: ID!) { deleteModel(id: $id) { id } }`, { id: merged.model.id });
  return { seconds, cleanupSeconds: (performance.now() - t1) / 1000, score: job.evaluation.score as number };
}

async function demoPart(server: TestServer) {
  const manifest = JSON.parse(fs.readFileSync(path.join(DEMO, "manifest.json"), "utf8"));
  const taskId = (await server.ok(`mutation { createTask(input: { key: "demo", name: "Demo", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
  const classes = manifest.datasets.find((d: any) => d.name === "synth-target-val").classes;
  const val = (await server.ok(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, { i: { name: "target-val", taskId, format: "SEMANTIC_PNG", location: path.join(DEMO, "datasets", "target", "val"), classes } })).createDataset.id;
  const ids = await registerPool(server, taskId, DEMO_POOL.map((name) => {
    const m = manifest.models.find((x: any) => x.name === name);
    return { name, file: path.join(DEMO, m.file), inference: m.inference };
  }));
  const input = { modelIds: DEMO_POOL.map((n) => ids[n]), includeSingles: false, objective: { kind: "SCORE", datasetId: val, limit: DEMO_IMAGES }, budget: { maxCandidates: DEMO_CANDIDATES }, keep: "NONE" };
  console.log(`demo pool: ${DEMO_POOL.length} models, ${DEMO_IMAGES} labelled target images; search of ${DEMO_CANDIDATES} merges, then ${NAIVE} of its recipes the naive way (load average ${load().join(" ")})`);
  // Warm-up, not counted: a short search and one naive recipe, so both sides' threads have
  // loaded onnxruntime and compiled their code (this script runs TypeScript from source; a
  // running server has done so once) before either is timed.
  const warm = await runSearch(server, { ...input, budget: { maxCandidates: WARMUP_CANDIDATES } });
  const warmKeys = new Set([...warm.nodes].sort((x, y) => (x.key < y.key ? 1 : -1)).slice(0, WARMUP_NAIVE).map((n) => n.key as string));
  for (const key of warmKeys) await naiveCandidate(server, warm.nodes.find((n) => n.key === key).recipe, val, DEMO_IMAGES);
  console.log(`  warm-up (not counted): a search of ${warm.run.candidates} in ${warm.run.wallSeconds.toFixed(1)} s, ${warmKeys.size} naive recipe(s)`);
  const searches: SearchRun[] = [];
  const a = await runSearch(server, input);
  searches.push(a.run);
  console.log(`  search 1: ${a.run.candidates} candidates in ${a.run.wallSeconds.toFixed(1)} s = ${a.run.candidatesPerMinute.toFixed(1)}/min (startMergeSearch ${a.run.startMutationSeconds.toFixed(1)} s, job ${a.run.jobSeconds.toFixed(1)} s)`);
  // A sample of the search's recipes in key (hash) order: pairs and triples as the plan has them.
  // (Not the warm-up's recipes: a merge already made would not be fresh.)
  const sample = [...a.nodes].filter((n) => !warmKeys.has(n.key)).sort((x, y) => (x.key < y.key ? -1 : 1)).slice(0, NAIVE);
  const naive: Array<{ key: string; models: number; seconds: number; cleanupSeconds: number; scoreDiff: number }> = [];
  const runNaive = async (items: any[]) => {
    for (const n of items) {
      const r = await naiveCandidate(server, n.recipe, val, DEMO_IMAGES);
      naive.push({ key: n.key, models: 1 + n.recipe.modelIds.length, seconds: r.seconds, cleanupSeconds: r.cleanupSeconds, scoreDiff: Math.abs(r.score - n.objective) });
      console.log(`  naive ${naive.length}: ${1 + n.recipe.modelIds.length} models, ${r.seconds.toFixed(2)} s (+ ${r.cleanupSeconds.toFixed(2)} s deleteModel), |score − objective| ${Math.abs(r.score - n.objective).toExponential(1)}`);
    }
  };
  await runNaive(sample.slice(0, Math.ceil(sample.length / 2)));
  const b = await runSearch(server, input);
  searches.push(b.run);
  console.log(`  search 2: ${b.run.candidates} candidates in ${b.run.wallSeconds.toFixed(1)} s = ${b.run.candidatesPerMinute.toFixed(1)}/min (startMergeSearch ${b.run.startMutationSeconds.toFixed(1)} s, job ${b.run.jobSeconds.toFixed(1)} s)`);
  await runNaive(sample.slice(Math.ceil(sample.length / 2)));
  const naiveSeconds = naive.reduce((s, n) => s + n.seconds, 0);
  const naivePerMinute = (naive.length * 60) / naiveSeconds;
  const naiveWithCleanupPerMinute = (naive.length * 60) / (naiveSeconds + naive.reduce((s, n) => s + n.cleanupSeconds, 0));
  const searchPerMinute = searches.reduce((s, r) => s + r.candidates, 0) * 60 / searches.reduce((s, r) => s + r.wallSeconds, 0);
  const speedup = searchPerMinute / naivePerMinute;
  console.log(`  search ${searchPerMinute.toFixed(1)} candidates/min, naive ${naivePerMinute.toFixed(2)}/min (${naiveWithCleanupPerMinute.toFixed(2)} with deleteModel): ${speedup.toFixed(1)} × (target ≥ ${TARGETS.demoSpeedup} ×)`);
  return {
    pool: DEMO_POOL,
    images: DEMO_IMAGES,
    searches,
    naive,
    searchCandidatesPerMinute: searchPerMinute,
    naiveCandidatesPerMinute: naivePerMinute,
    naiveWithCleanupCandidatesPerMinute: naiveWithCleanupPerMinute,
    maxScoreDiff: Math.max(...naive.map((n) => n.scoreDiff)),
    speedup,
    target: TARGETS.demoSpeedup,
    met: speedup >= TARGETS.demoSpeedup,
  };
}

/** Mean time and process CPU time of one bare session.run (1 intra-op thread, no spinning) over pre-decoded tensors. */
async function bareRun(modelPath: string, feeds: ort.Tensor[], runs: number) {
  const session = await openSession(modelPath, sessionThreads(1));
  try {
    // Into one pre-allocated output, as a search's candidate threads write theirs: with a fresh
    // 20 MB output per run, onnxruntime page-faults on a third to half of the runs (30 vs 85 ms
    // each here), which made the floor slower than the search's own session.run.
    const first = (await session.run({ image: feeds[0] }, ["logits"])).logits as ort.Tensor;
    const fetches = { logits: new ort.Tensor("float32", new Float32Array(first.data.length), first.dims) };
    for (let i = 0; i < 4; i++) await session.run({ image: feeds[i % feeds.length] }, fetches);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) await session.run({ image: feeds[i % feeds.length] }, fetches);
    return { msPerRun: (performance.now() - t0) / runs, cpuMsPerRun: cpuMs(process.cpuUsage(cpu0)) / runs, loadavg: load() };
  } finally {
    await session.release();
  }
}

async function netPart(server: TestServer, root: string) {
  const nets = Array.from({ length: NET_MODELS }, (_, i) => buildBenchNet(path.join(root, `benchnet-${i + 1}.onnx`), i + 1));
  const dataDir = path.join(root, "net512");
  await writeBenchImages(dataDir, SIZE, NET_IMAGES);
  const taskId = (await server.ok(`mutation { createTask(input: { key: "net512", name: "512 net", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
  const classes = Array.from({ length: CLASSES }, (_, id) => ({ id, name: `class${id}`, isThing: false }));
  const datasetId = (await server.ok(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, { i: { name: "net512", taskId, format: "SEMANTIC_PNG", location: dataDir, classes } })).createDataset.id;
  const ids = await registerPool(server, taskId, nets.map((n, i) => ({ name: `benchnet-${i + 1}`, file: n.path, inference: BENCH_NET_CONTRACT })));
  const decoder = new SharpDecoder();
  const feeds: ort.Tensor[] = [];
  for (let i = 0; i < Math.min(NET_IMAGES, 8); i++) {
    const img = await decoder.decode(path.join(dataDir, "images", `frame_${String(i).padStart(4, "0")}.png`));
    const data = new Float32Array(3 * SIZE * SIZE);
    preprocessImage(img, { ...BENCH_NET_CONTRACT, width: SIZE, height: SIZE }, data, 0);
    feeds.push(new ort.Tensor("float32", data, [1, 3, SIZE, SIZE]));
  }
  console.log(`512² net: ${NET_MODELS} models of ${((2 * nets[0].macs) / 1e9).toFixed(2)} GFLOPs/image, ${NET_IMAGES} images, ${NET_CANDIDATES} candidates per search, ${NET_THREADS} candidate thread(s) (load average ${load().join(" ")})`);
  const runs = [];
  for (const kind of NET_OBJECTIVES) {
    const before = await bareRun(nets[0].path, feeds, NET_IMAGES);
    const { run } = await runSearch(server, { modelIds: Object.values(ids), objective: { kind, datasetId, limit: NET_IMAGES }, budget: { maxCandidates: NET_CANDIDATES }, keep: "NONE" });
    const after = await bareRun(nets[0].path, feeds, NET_IMAGES);
    const msPerRun = (before.msPerRun + after.msPerRun) / 2;
    const cpuMsPerRun = (before.cpuMsPerRun + after.cpuMsPerRun) / 2;
    const sessionRuns = run.candidates * run.images;
    const floorSeconds = (sessionRuns * msPerRun) / 1000 / NET_THREADS;
    const ratio = run.wallSeconds / floorSeconds;
    const cpuRatio = run.cpuSeconds / ((sessionRuns * cpuMsPerRun) / 1000);
    console.log(`  ${kind}: ${run.candidates} candidates × ${run.images} images in ${run.wallSeconds.toFixed(1)} s (startMergeSearch ${run.startMutationSeconds.toFixed(1)} s, job ${run.jobSeconds.toFixed(1)} s); floor ${floorSeconds.toFixed(1)} s (${msPerRun.toFixed(1)} ms per session.run, ${before.msPerRun.toFixed(1)} before / ${after.msPerRun.toFixed(1)} after): ${ratio.toFixed(3)} × (target ≤ ${TARGETS.netFloorRatio}); CPU ${cpuRatio.toFixed(3)} × the floor's`);
    runs.push({ ...run, bareBefore: before, bareAfter: after, floorSeconds, ratio, cpuRatio, met: ratio <= TARGETS.netFloorRatio });
  }
  return { models: NET_MODELS, gflopsPerImage: (2 * nets[0].macs) / 1e9, images: NET_IMAGES, session: sessionThreads(1), runs, target: TARGETS.netFloorRatio };
}

function gitCommit(): string {
  try {
    return execSync("git rev-parse --short HEAD", { cwd: path.resolve(__dirname, ".."), stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
  } catch {
    return "unknown";
  }
}

async function main(): Promise<void> {
  const loadAtStart = load();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "lm-bench-search-"));
  let peakRss = 0;
  // (process.memoryUsage() walks the heap's spaces: 20 times a second it took CPU from the search it measures.)
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 250);
  let server = null as TestServer | null;
  let searchThreads: number | null = null;
  const start = async (threads: string | undefined) => {
    await server?.stop();
    server = await startTestServer("sqlite", { LAYERMERGE_DATASET_ROOTS: [path.join(DEMO, "datasets"), root].join(path.delimiter), LAYERMERGE_JOB_CONCURRENCY: String(WORKERS), ...(threads ? { LAYERMERGE_SEARCH_THREADS: threads } : {}) });
    return server;
  };
  try {
    console.log(`commit ${gitCommit()}, ${os.cpus().length} × ${os.cpus()[0]?.model}, load average ${loadAtStart.join(" ")}; allocator: ${process.env.GLIBC_TUNABLES ?? "glibc defaults"}`);
    let demo = null;
    if (!process.env.BENCH_SKIP_DEMO) {
      const s = await start(SEARCH_THREADS);
      searchThreads = s.app.services.config.searchThreads;
      console.log(`demo part: ${searchThreads} candidate thread(s), ${WORKERS} job(s) at once`);
      demo = await demoPart(s);
    }
    const net = process.env.BENCH_SKIP_NET ? null : await netPart(await start(String(NET_THREADS)), root);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    const maxRssMB = process.resourceUsage().maxRSS / 1024;
    console.log(`peak RSS: ${maxRssMB.toFixed(0)} MB (getrusage maxRSS; sampled ${(peakRss / 2 ** 20).toFixed(0)} MB)`);
    const result = {
      date: new Date().toISOString(),
      commit: gitCommit(),
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, loadAverageAtStart: loadAtStart, loadAverageAtEnd: load(), glibcTunables: process.env.GLIBC_TUNABLES ?? null },
      workers: WORKERS,
      searchThreads,
      netThreads: NET_THREADS,
      demo,
      net512: net,
      peakRssMB: maxRssMB,
    };
    fs.mkdirSync(path.join(__dirname, "results"), { recursive: true });
    const out = path.join(__dirname, "results", process.env.BENCH_RESULT ?? "search.json");
    fs.writeFileSync(out, JSON.stringify(result, null, 2) + "\n");
    console.log(`saved ${out}`);
  } finally {
    clearInterval(sampler);
    await server?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
