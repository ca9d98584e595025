/**
 * `npm run bench:api`: how much a running merge slows the API for dashboards, and how long
 * /healthz waits while the most expensive query the limits accept runs.
 *
 * Embedded shape: one `layermerge serve` process (SQLite, merges in its worker threads), started
 * as a separate process so the load generator (autocannon, here) does not share its event loop.
 * The dashboard query — models(first: 50) with task, backbone, parents and score — is measured at
 * 50 concurrent connections with nothing running, then again while merges of large models run
 * back to back. Reports p50 / p99 latency and requests/s for both, and the p99 ratio.
 *
 * Then the most expensive queries the default limits accept run back to back — ten plans (the
 * cap on expensive fields) of three models of WIDE_TENSORS tensors each, three such plans with
 * their lists of tensors and layers, and a full page of models with seven relations each —
 * while one client asks /healthz over and over; its latency is reported (goal: p99 ≤ 100 ms),
 * with /healthz alone on the same machine as the baseline.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import autocannon from "autocannon";
import { startLayermerge, ensureBuilt } from "../test/support/processes";
import { writeSafetensors } from "../src/core/formats/safetensors/testing/writeSafetensors";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const CONNECTIONS = 50;
const MODEL_FLOATS = Number(process.env.BENCH_MODEL_FLOATS ?? 48 << 20); // 192 MiB per model
const WIDE_TENSORS = Number(process.env.BENCH_WIDE_TENSORS ?? 2000); // more than a SegFormer-B5 has
const HEALTH_SECONDS = Number(process.env.BENCH_HEALTH_SECONDS ?? 10);

async function gql(url: string, query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: any; errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** /healthz latency, one request after another, while `body` is posted back to back. */
async function healthWhile(url: string, origin: string, label: string, body: string | null) {
  let running = true;
  const durations: number[] = [];
  const load = (async () => {
    while (running && body) {
      const started = performance.now();
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
      const result = (await res.json()) as { errors?: unknown };
      if (result.errors) throw new Error(`${label} was refused: ${JSON.stringify(result.errors)}`);
      durations.push(performance.now() - started);
    }
  })();
  await new Promise((r) => setTimeout(r, 200)); // the first one is under way
  const latencies: number[] = [];
  const until = Date.now() + HEALTH_SECONDS * 1000;
  while (Date.now() < until) {
    const started = performance.now();
    const res = await fetch(`${origin}/healthz`);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`/healthz answered ${res.status}`);
    latencies.push(performance.now() - started);
  }
  running = false;
  await load;
  latencies.sort((a, b) => a - b);
  const round = (v: number) => Math.round(v * 10) / 10;
  return {
    request: label,
    "request ms (mean)": durations.length ? round(durations.reduce((a, b) => a + b, 0) / durations.length) : null,
    "healthz p50 ms": round(percentile(latencies, 50)),
    "healthz p99 ms": round(percentile(latencies, 99)),
    "healthz max ms": round(latencies[latencies.length - 1]),
    "healthz samples": latencies.length,
  };
}

function run(url: string, body: string): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon({ url, method: "POST", headers: { "content-type": "application/json" }, body, connections: CONNECTIONS, duration: SECONDS }, (err, result) => (err ? reject(err) : resolve(result)));
    void instance;
  });
}

async function main() {
  ensureBuilt();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-bench-api-"));
  const server = startLayermerge(["serve"], { LAYERMERGE_DATA_DIR: dir, PORT: "0", REDIS_URL: "", DATABASE_URL: "", LOG_LEVEL: "warn", LAYERMERGE_WORKERS: "1", LAYERMERGE_DATASET_ROOTS: "/data" }); // its dataset is recorded (verify: false) under /data
  try {
    const url = (await server.waitFor(/serving GraphQL at (http:\/\/\S+\/graphql)/))[1];
    const origin = url.replace(/\/graphql$/, "");
    console.log(`server: ${url} (embedded shape: SQLite, merges in a worker thread of the same process)`);

    // A registry a dashboard would show: 300 models in chains, each with a score.
    const taskId = (await gql(url, `mutation { createTask(input: { key: "sem", name: "Semantic", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    const backboneId = (await gql(url, `mutation { createBackbone(input: { name: "MiT-B5" }) { id } }`)).createBackbone.id;
    const datasetId = (await gql(url, `mutation($t: ID!) { createDataset(input: { name: "cs", taskId: $t, format: CITYSCAPES, location: "/data/cs", verify: false, classes: [{ id: 0, name: "road", isThing: false }] }) { id } }`, { t: taskId })).createDataset.id;
    let previous: string | null = null;
    for (let i = 0; i < 300; i++) {
      const id: string = (await gql(url, `mutation($i: CreateModelInput!) { createModel(input: $i) { id } }`, { i: { name: `model-${i}`, taskId, backboneId, tags: ["bench"] } })).createModel.id;
      await gql(url, `mutation($i: RecordEvaluationInput!) { recordEvaluation(input: $i) { id } }`, { i: { modelId: id, datasetId, score: (i % 97) / 100, source: "bench" } });
      if (previous && i % 5 !== 0) await gql(url, `mutation($i: AddLineageEdgeInput!) { addLineageEdge(input: $i) { id } }`, { i: { parentId: previous, childId: id, relation: "CHECKPOINT_OF" } });
      previous = id;
    }
    // Three large models to merge.
    const big: string[] = [];
    for (let s = 0; s < 3; s++) {
      const data = new Float32Array(MODEL_FLOATS);
      for (let i = 0; i < data.length; i++) data[i] = ((i + s) % 1000) / 1000;
      const bytes = writeSafetensors([{ name: "enc.weight", dtype: "F32", shape: [MODEL_FLOATS], data: new Uint8Array(data.buffer) }]);
      const put = (await (await fetch(`${origin}/artifacts`, { method: "PUT", body: bytes })).json()) as { sha256: string };
      big.push((await gql(url, `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: `big-${s}`, taskId, artifactSha256: put.sha256 } })).registerModel.id);
    }
    const modelBytes = MODEL_FLOATS * 4;
    // Three wide models: planning a merge visits every tensor of every input.
    const wide: string[] = [];
    for (let s = 0; s < 3; s++) {
      const tensors = Array.from({ length: WIDE_TENSORS }, (_, i) => ({ name: `blocks.${i}.weight`, dtype: "F32" as const, shape: [2], data: new Uint8Array(new Float32Array([s, i]).buffer) }));
      const put = (await (await fetch(`${origin}/artifacts`, { method: "PUT", body: writeSafetensors(tensors) })).json()) as { sha256: string };
      wide.push((await gql(url, `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: `wide-${s}`, taskId, artifactSha256: put.sha256 } })).registerModel.id);
    }

    const query = JSON.stringify({
      query: `query($d: ID!) { models(first: 50, orderBy: { field: NAME }) { totalCount edges { node { id name task { key } backbone { name } parents { name } score(datasetId: $d) } } } }`,
      variables: { d: datasetId },
    });
    await run(url, query); // warm-up (connections, caches, JIT)
    const idle = await run(url, query);

    // Keep merges running for the whole measurement: each a new recipe (STEP cutoff), back to back.
    let merging = true;
    let merges = 0;
    let mergeSeconds = 0;
    const mergeLoop = (async () => {
      for (let k = 1; merging; k++) {
        const started = Date.now();
        const job = (await gql(url, `mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, { i: { anchorId: big[0], modelIds: [big[1], big[2]], schedule: { kind: "STEP", cutoff: 1 / (k + 1) }, output: { name: `merged-${k}` } } })).startMerge.id;
        for (;;) {
          const { job: j } = await gql(url, `query($id: ID!) { job(id: $id) { status } }`, { id: job });
          if (!["QUEUED", "RUNNING"].includes(j.status)) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        merges++;
        mergeSeconds += (Date.now() - started) / 1000;
      }
    })();
    await new Promise((r) => setTimeout(r, 500)); // the first merge is under way
    const loaded = await run(url, query);
    merging = false;
    await mergeLoop;

    // The most expensive queries the default limits accept (cost ≤ 5,000, ≤ 10 expensive fields).
    const plans = (count: number, selection: string) =>
      JSON.stringify({ query: `{ ${Array.from({ length: count }, (_, i) => `p${i}: mergePlan(input: { anchorId: "${wide[0]}", modelIds: ["${wide[1]}", "${wide[2]}"] }) { ${selection} }`).join(" ")} }` });
    const page = JSON.stringify({
      query: `{ models(first: 500) { edges { node { id name task { key } backbone { name } parents { name } children { name } sourceDataset { name } targetDataset { name } structure { hash } } } } }`,
    });
    const health = [
      await healthWhile(url, origin, "nothing (baseline on this machine)", null),
      await healthWhile(url, origin, `10 × mergePlan of 3 × ${WIDE_TENSORS} tensors`, plans(10, "layerCount mergedTensorCount expectedOutputBytes")),
      await healthWhile(url, origin, `3 × the same with its tensors and layers`, plans(3, "layerCount layers { index weights } tensors { name action }")),
      await healthWhile(url, origin, "models(first: 500) with 7 relations each", page),
    ];
    console.table(health);
    const worstHealthP99 = Math.max(...health.slice(1).map((h) => h["healthz p99 ms"]));
    console.log(`/healthz p99 while the most expensive accepted queries run: ${worstHealthP99} ms (goal ≤ 100 ms)`);

    const row = (label: string, r: autocannon.Result) => ({
      condition: label,
      "p50 ms": r.latency.p50,
      "p99 ms": r.latency.p99,
      "req/s": Math.round(r.requests.average),
      errors: r.errors + r.non2xx,
    });
    const table = [row("idle", idle), row("during merges", loaded)];
    console.table(table);
    const ratio = loaded.latency.p99 / idle.latency.p99;
    console.log(`p99 under load / p99 idle = ${ratio.toFixed(2)} (target ≤ 2.0)`);
    console.log(`${merges} merges of 3 × ${(modelBytes / 2 ** 20).toFixed(0)} MiB ran during the loaded window (${(mergeSeconds / Math.max(1, merges)).toFixed(1)} s each on average)`);
    console.log(`machine: ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}; ${CONNECTIONS} connections, ${SECONDS} s per run`);
    const out = path.join(__dirname, "results", "api.json");
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), connections: CONNECTIONS, seconds: SECONDS, modelBytes, merges, table, ratio, health, worstHealthP99, loadavg: os.loadavg() }, null, 2));
    console.log(`saved ${out}`);
  } finally {
    await server.kill("SIGTERM");
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
