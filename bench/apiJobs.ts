/**
 * Jobs against request handling: a merge's and an evaluation's wall time (the job's own
 * created → finished) on an idle server, then while one dashboard query saturates it from a load
 * generator in its own process (bench/loadGenerator.ts). Goal: saturated ≤ 2 × idle (median of
 * each), for both kinds.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { load, type LoadSummary } from "./loadGenerator";
import { gql, jobTimes, upload, type BenchRegistry } from "./apiRegistry";
import { BENCH_NET_CONTRACT, CLASSES, SIZE, buildBenchNet, writeBenchImages } from "./benchNet";

const RUNS = Number(process.env.BENCH_MERGES ?? 4);
const EVAL_IMAGES = Number(process.env.BENCH_EVAL_IMAGES ?? 24);
export const JOB_RATIO_GOAL = 2;

export interface EvaluationTarget {
  modelId: string;
  datasetId: string;
  images: number;
}

/** A 512² net and a dataset of `EVAL_IMAGES` street-like frames under `root` (a dataset root of the server). */
export async function seedEvaluation(url: string, origin: string, root: string): Promise<EvaluationTarget> {
  const dataset = path.join(root, "eval-frames");
  await writeBenchImages(dataset, SIZE, EVAL_IMAGES);
  const net = buildBenchNet(path.join(root, "bench-net.onnx"), 7);
  const sha256 = await upload(origin, fs.readFileSync(net.path));
  // A task of its own, so the registry the dashboard queries read is unchanged.
  const taskId = (await gql(url, `mutation { createTask(input: { key: "eval-bench", name: "Semantic (evaluation bench)", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
  const classes = Array.from({ length: CLASSES }, (_, id) => ({ id, name: `class${id}`, isThing: false }));
  const datasetId = (await gql(url, `mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, { i: { name: "eval-frames", taskId, format: "SEMANTIC_PNG", location: dataset, classes } })).createDataset.id;
  const modelId = (await gql(url, `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: "bench-net", taskId, artifactSha256: sha256, inference: BENCH_NET_CONTRACT } })).registerModel.id;
  return { modelId, datasetId, images: EVAL_IMAGES };
}

export interface JobTimings {
  idle: number[];
  saturated: number[];
  ratio: number;
  /** Of each run above, created → started: the wait before a runner began it. */
  queued: { idle: number[]; saturated: number[] };
}

export interface JobsUnderLoad {
  merge: JobTimings & { modelBytes: number };
  evaluation: JobTimings & { images: number };
  saturating: { query: string; reqPerSecond: number; p99: number; errors: number };
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

export async function jobsUnderLoad(url: string, registry: BenchRegistry, evaluation: EvaluationTarget, saturating: { name: string; body: string; headers?: Record<string, string> }, connections: number, modelFloats: number): Promise<JobsUnderLoad> {
  let mergeCount = 0;
  const merge = async () => {
    const k = mergeCount++;
    const job = (await gql(url, `mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, {
      i: { anchorId: registry.big[0], modelIds: [registry.big[1], registry.big[2]], schedule: { kind: "STEP", cutoff: 1 / (k + 2) }, output: { name: `bench-merge-${k}` } },
    })).startMerge.id;
    return jobTimes(url, job);
  };
  // force: the same model and dataset again is a new run, not the stored evaluation.
  const evaluate = async () => {
    const job = (await gql(url, `mutation($i: StartEvaluationInput!) { startEvaluation(input: $i) { id } }`, { i: { modelId: evaluation.modelId, datasetId: evaluation.datasetId, force: true } })).startEvaluation.id;
    return jobTimes(url, job);
  };
  // One of each first, not counted: the first run of a kind pays for starting threads, loading
  // onnxruntime and its session, which would flatter every later run against the idle one.
  await merge();
  await evaluate();
  type Run = { seconds: number; queuedSeconds: number };
  const idle = { merge: [] as Run[], evaluation: [] as Run[] };
  for (let k = 0; k < RUNS; k++) idle.merge.push(await merge());
  for (let k = 0; k < RUNS; k++) idle.evaluation.push(await evaluate());

  const generator = load({ url, body: saturating.body, headers: saturating.headers, connections, seconds: 3600 });
  await new Promise((r) => setTimeout(r, 2000)); // the load is established
  const saturated = { merge: [] as Run[], evaluation: [] as Run[] };
  let summary: LoadSummary;
  try {
    for (let k = 0; k < RUNS; k++) saturated.merge.push(await merge());
    for (let k = 0; k < RUNS; k++) saturated.evaluation.push(await evaluate());
  } finally {
    generator.stop();
    summary = await generator.done;
  }
  const timings = (kind: "merge" | "evaluation"): JobTimings => {
    const [i, s] = [idle[kind].map((r) => r.seconds), saturated[kind].map((r) => r.seconds)];
    return { idle: i, saturated: s, ratio: median(s) / median(i), queued: { idle: idle[kind].map((r) => r.queuedSeconds), saturated: saturated[kind].map((r) => r.queuedSeconds) } };
  };
  return {
    merge: { ...timings("merge"), modelBytes: modelFloats * 4 },
    evaluation: { ...timings("evaluation"), images: evaluation.images },
    saturating: { query: saturating.name, reqPerSecond: Math.round(summary.requests.average), p99: summary.latency.p99, errors: summary.errors + summary.non2xx + summary.timeouts },
  };
}

export function printJobs(result: JobsUnderLoad): void {
  const s = (v: number[]) => v.map((x) => x.toFixed(2)).join(", ");
  const line = (label: string, t: JobTimings) =>
    `${label}, job created → finished: idle ${s(t.idle)} s; saturated ${s(t.saturated)} s; median ratio ${t.ratio.toFixed(2)} (goal ≤ ${JOB_RATIO_GOAL}: ${t.ratio <= JOB_RATIO_GOAL ? "met" : "NOT met"}); of which created → started: idle ${s(t.queued.idle)} s, saturated ${s(t.queued.saturated)} s`;
  console.log(`saturating load: ${result.saturating.query} from a load generator process (${result.saturating.reqPerSecond} req/s, p99 ${result.saturating.p99} ms, ${result.saturating.errors} errors)`);
  console.log(line(`merge of 3 × ${(result.merge.modelBytes / 2 ** 20).toFixed(0)} MiB`, result.merge));
  console.log(line(`evaluation of a 512² net on ${result.evaluation.images} images`, result.evaluation));
}
