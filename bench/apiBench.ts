/**
 * `npm run bench:api` (issue 6, item 7): how much a running merge slows the API for dashboards.
 *
 * Embedded shape: one `layermerge serve` process (SQLite, merges in its worker threads), started
 * as a separate process so the load generator (autocannon, here) does not share its event loop.
 * The dashboard query — models(first: 50) with task, backbone, parents and score — is measured at
 * 50 concurrent connections with nothing running, then again while merges of large models run
 * back to back. Reports p50 / p99 latency and requests/s for both, and the p99 ratio.
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

async function gql(url: string, query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: any; errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
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
    fs.writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), connections: CONNECTIONS, seconds: SECONDS, modelBytes, merges, table, ratio, loadavg: os.loadavg() }, null, 2));
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
