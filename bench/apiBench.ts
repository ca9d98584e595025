/**
 * `npm run bench:api [-- --postgres URL]`: what dashboards get from one server, as ratios within
 * one run (the machine may be shared, so absolute figures drift; ratios of runs taken minutes
 * apart on the same server drift less).
 *
 * One `layermerge serve` process (embedded shape: SQLite by default, or the PostgreSQL database
 * given, in a fresh schema dropped afterwards); the load generator (autocannon) runs in this
 * process, not the server's. Against a registry of 300 models with lineage and scores:
 *
 * 1. Each dashboard query at 50 connections: req/s, p50, p99, errors, the server's CPU per
 *    request (utime + stime of its process over the run, all its threads), and req/s as a
 *    fraction of `{ __typename }`'s (the floor: HTTP + GraphQL with no work), measured before and
 *    after the others and averaged.
 * 2. A merge job's wall time (the job's created → finished) on an idle server and while the
 *    dashboard query saturates it.
 * 3. /healthz latency while the most expensive queries the default limits accept run.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import autocannon from "autocannon";
import { Client } from "pg";
import { startLayermerge, ensureBuilt } from "../test/support/processes";
import { dashboardQueries, gql, jobSeconds, seedRegistry } from "./apiRegistry";
import { healthWhile } from "./apiHealth";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const CONNECTIONS = 50;
const MODELS = Number(process.env.BENCH_MODELS ?? 300);
const MODEL_FLOATS = Number(process.env.BENCH_MODEL_FLOATS ?? 48 << 20); // 192 MiB per model
const WIDE_TENSORS = Number(process.env.BENCH_WIDE_TENSORS ?? 2000); // more than a SegFormer-B5 has
const MERGES = Number(process.env.BENCH_MERGES ?? 2);
/** Linux reports process CPU time in clock ticks of 1/100 s. */
const TICK_MS = 10;

function argument(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function cpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

function load(url: string, body: string, seconds: number): { done: Promise<autocannon.Result>; stop(): void } {
  let instance: autocannon.Instance | undefined;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    instance = (autocannon as unknown as (o: autocannon.Options, cb: (err: unknown, result: autocannon.Result) => void) => autocannon.Instance)({ url, method: "POST", headers: { "content-type": "application/json" }, body, connections: CONNECTIONS, duration: seconds }, (err, result) => (err ? reject(err) : resolve(result)));
  });
  return { done, stop: () => instance?.stop() };
}

async function measure(url: string, pid: number, name: string, body: string) {
  await load(url, body, 3).done; // warm-up (connections, caches, JIT)
  const before = cpuMs(pid);
  const r = await load(url, body, SECONDS).done;
  const cpu = cpuMs(pid) - before;
  return {
    query: name,
    "req/s": Math.round(r.requests.average),
    "p50 ms": r.latency.p50,
    "p99 ms": r.latency.p99,
    errors: r.errors + r.non2xx + r.timeouts,
    "CPU ms/req": Math.round((100 * cpu) / Math.max(1, r.requests.total)) / 100,
  };
}

async function main() {
  ensureBuilt();
  const postgres = argument("--postgres");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-bench-api-"));
  const schema = `bench_api_${Date.now().toString(36)}`;
  let databaseUrl = "";
  if (postgres) {
    const u = new URL(postgres);
    u.searchParams.set("schema", schema);
    databaseUrl = u.toString();
  }
  const server = startLayermerge(["serve"], { LAYERMERGE_DATA_DIR: dir, PORT: "0", REDIS_URL: "", DATABASE_URL: databaseUrl, LOG_LEVEL: "warn", LAYERMERGE_WORKERS: "1", LAYERMERGE_DATASET_ROOTS: "/data" });
  const pid = server.child.pid!;
  try {
    const url = (await server.waitFor(/serving GraphQL at (http:\/\/\S+\/graphql)/))[1]!;
    const origin = url.replace(/\/graphql$/, "");
    const provider = postgres ? "postgres" : "sqlite";
    console.log(`server: ${url} (embedded shape, ${provider}; merges in a worker thread of the server process); load generator: autocannon in the bench process`);
    const seedStarted = Date.now();
    const registry = await seedRegistry(url, { models: MODELS, bigFloats: MODEL_FLOATS, wideTensors: WIDE_TENSORS });
    console.log(`registry: ${registry.modelCount} models, seeded in ${((Date.now() - seedStarted) / 1000).toFixed(0)} s`);

    // 1. Dashboard queries against the floor (before and after them).
    const [floor, ...queries] = dashboardQueries(registry);
    const floorBefore = await measure(url, pid, floor!.name, floor!.body);
    const rows = [];
    for (const q of queries) rows.push(await measure(url, pid, q.name, q.body));
    const floorAfter = await measure(url, pid, `${floor!.name} (again)`, floor!.body);
    const floorRate = (floorBefore["req/s"] + floorAfter["req/s"]) / 2;
    const goals: Record<string, { ratio: number; p99?: number }> = {
      "dashboard: models(first: 50)": { ratio: 0.35, p99: 250 },
      "leaderboard(first: 50) + gains": { ratio: 0.25 },
      "model page": { ratio: 0.25 },
      "lineage(depth: 3) of a merge": { ratio: 0.25 },
    };
    const table = [floorBefore, ...rows, floorAfter].map((r) => {
      const goal = goals[r.query];
      const ratio = Math.round((1000 * r["req/s"]) / floorRate) / 1000;
      const met = goal ? ratio >= goal.ratio && (goal.p99 === undefined || r["p99 ms"] <= goal.p99) && r.errors === 0 : null;
      return { ...r, "× floor": ratio, goal: goal ? `≥ ${goal.ratio}×${goal.p99 ? `, p99 ≤ ${goal.p99} ms` : ""}, 0 errors` : "", met: met === null ? "" : met ? "yes" : "NO" };
    });
    console.table(table);

    // 2. Merge jobs idle, then while the dashboard query saturates the server.
    const dashboard = queries[0]!;
    const merge = async (k: number) => {
      const job = (await gql(url, `mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, {
        i: { anchorId: registry.big[0], modelIds: [registry.big[1], registry.big[2]], schedule: { kind: "STEP", cutoff: 1 / (k + 2) }, output: { name: `bench-merge-${k}` } },
      })).startMerge.id;
      return jobSeconds(url, job);
    };
    const idle: number[] = [];
    for (let k = 0; k < MERGES; k++) idle.push(await merge(k));
    const saturating = load(url, dashboard.body, 3600);
    await new Promise((r) => setTimeout(r, 2000)); // the load is established
    const saturated: number[] = [];
    for (let k = MERGES; k < 2 * MERGES; k++) saturated.push(await merge(k));
    saturating.stop();
    const loadResult = await saturating.done;
    const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
    const mergeRatio = median(saturated) / median(idle);
    const mb = (3 * MODEL_FLOATS * 4) / 2 ** 20;
    console.log(`merge of 3 × ${(mb / 3).toFixed(0)} MiB, job created → finished: idle ${idle.map((s) => s.toFixed(2)).join(", ")} s; ` +
      `while ${dashboard.name} saturates the server (${Math.round(loadResult.requests.average)} req/s, p99 ${loadResult.latency.p99} ms) ${saturated.map((s) => s.toFixed(2)).join(", ")} s; ` +
      `median ratio ${mergeRatio.toFixed(2)} (goal ≤ 2)`);

    // 3. /healthz while the most expensive accepted queries run.
    const health = await healthWhile(url, origin, registry.wide, WIDE_TENSORS);
    const worstHealthP99 = Math.max(...health.slice(1).map((h) => h["healthz p99 ms"]));
    console.table(health);
    console.log(`/healthz p99 while the most expensive accepted queries run: ${worstHealthP99} ms (goal ≤ 100 ms)`);

    const loadavg = os.loadavg();
    console.log(`machine: ${os.cpus().length} cores, load average ${loadavg.map((l) => l.toFixed(2)).join(" ")}; ${CONNECTIONS} connections, ${SECONDS} s per run`);
    const out = path.join(__dirname, "results", `api-${provider}.json`);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, JSON.stringify({
      date: new Date().toISOString(), provider, connections: CONNECTIONS, seconds: SECONDS, models: registry.modelCount, floorReqPerSecond: floorRate, table,
      merge: { modelBytes: MODEL_FLOATS * 4, idleSeconds: idle, saturatedSeconds: saturated, ratio: mergeRatio, saturatingReqPerSecond: Math.round(loadResult.requests.average), saturatingP99: loadResult.latency.p99 },
      health, worstHealthP99, loadavg, cores: os.cpus().length,
    }, null, 2) + "\n");
    console.log(`saved ${out}`);
  } finally {
    await server.kill("SIGTERM");
    fs.rmSync(dir, { recursive: true, force: true });
    if (postgres) {
      const client = new Client({ connectionString: postgres });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    }
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
