/**
 * `npm run bench:api [-- --postgres URL]`: what dashboards get from one server, as ratios within
 * one run (the machine may be shared, so absolute figures drift; ratios of runs taken minutes
 * apart on the same server drift less).
 *
 * One `layermerge serve` process (embedded shape: SQLite by default, or the PostgreSQL database
 * given, in a fresh schema dropped afterwards), its jobs in its job-runner child process
 * (LAYERMERGE_JOB_PROCESS=child, LAYERMERGE_JOB_PRIORITY=5 unless BENCH_JOB_PROCESS=inline or
 * BENCH_JOB_PRIORITY say otherwise; the bench prints the nice values it finds); the load
 * generator (autocannon) runs in a process of its own (bench/loadGenerator.ts), neither the
 * server's nor the bench's. Against a registry of 300 models with lineage and scores:
 *
 * 1. Each dashboard query at 50 connections: req/s, p50, p99, errors, the server's CPU per
 *    request (utime + stime of its process over the run, all its threads), and req/s as a
 *    fraction of `{ __typename }`'s (the floor: HTTP + GraphQL with no work), measured before and
 *    after the others and averaged.
 * 2. A merge job's and an evaluation job's wall time (the job's created → finished) on an idle
 *    server and while the dashboard query saturates it (bench/apiJobs.ts; goal ≤ 2× idle).
 * 3. /healthz latency while the most expensive queries the default limits accept run.
 *
 * BENCH_PARTS=queries,jobs,health (the default) names the parts to run; a subset saves its
 * results as api-<provider>-<parts>.json.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { startLayermerge, ensureBuilt } from "../test/support/processes";
import { dashboardQueries, NO_CACHE, seedRegistry } from "./apiRegistry";
import { healthWhile } from "./apiHealth";
import { load } from "./loadGenerator";
import { jobsUnderLoad, printJobs, seedEvaluation } from "./apiJobs";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const CONNECTIONS = 50;
const MODELS = Number(process.env.BENCH_MODELS ?? 300);
const MODEL_FLOATS = Number(process.env.BENCH_MODEL_FLOATS ?? 48 << 20); // 192 MiB per model
const WIDE_TENSORS = Number(process.env.BENCH_WIDE_TENSORS ?? 2000); // more than a SegFormer-B5 has
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

/** A process's nice value (`/proc/<pid>/stat`, field 19). */
function niceOf(pid: number): number {
  return Number(fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[16]);
}

/** The server's job-runner child, if it has one. */
function runnerPid(serverPid: number): number | null {
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(fs.readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
      if (ppid === serverPid && fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("jobProcess")) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return null;
}

async function measure(url: string, pid: number, name: string, body: string, headers?: Record<string, string>) {
  await load({ url, body, headers, connections: CONNECTIONS, seconds: 3 }).done; // warm-up (connections, caches, JIT)
  const before = cpuMs(pid);
  const r = await load({ url, body, headers, connections: CONNECTIONS, seconds: SECONDS }).done;
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

type Query = { name: string; body: string; headers?: Record<string, string> };

/**
 * Each query as a dashboard sends it (answered from the response cache while the registry is
 * unchanged), then with Cache-Control: no-cache (executed every time: the cost of a miss), between
 * two runs of the floor.
 */
async function measureQueries(url: string, pid: number, floor: Query, queries: Query[]) {
  const floorBefore = await measure(url, pid, floor.name, floor.body);
  const rows = [];
  for (const q of queries) {
    rows.push(await measure(url, pid, q.name, q.body));
    rows.push(await measure(url, pid, `${q.name} (no-cache)`, q.body, NO_CACHE));
  }
  const floorAfter = await measure(url, pid, `${floor.name} (again)`, floor.body);
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
  return { table, floorRate };
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
  const jobProcess = process.env.BENCH_JOB_PROCESS ?? "child";
  const jobPriority = process.env.BENCH_JOB_PRIORITY ?? "5";
  const server = startLayermerge(["serve"], {
    LAYERMERGE_DATA_DIR: dir, PORT: "0", REDIS_URL: "", DATABASE_URL: databaseUrl, LOG_LEVEL: "warn", LAYERMERGE_WORKERS: "1",
    LAYERMERGE_DATASET_ROOTS: `${dir}${path.delimiter}/data`, LAYERMERGE_JOB_PROCESS: jobProcess, LAYERMERGE_JOB_PRIORITY: jobPriority,
  });
  const pid = server.child.pid!;
  try {
    const url = (await server.waitFor(/serving GraphQL at (http:\/\/\S+\/graphql)/, 180_000))[1]!;
    const origin = url.replace(/\/graphql$/, "");
    const provider = postgres ? "postgres" : "sqlite";
    console.log(`server: ${url} (embedded shape, ${provider}); load generator: autocannon in a process of its own`);
    const seedStarted = Date.now();
    const registry = await seedRegistry(url, { models: MODELS, bigFloats: MODEL_FLOATS, wideTensors: WIDE_TENSORS });
    console.log(`registry: ${registry.modelCount} models, seeded in ${((Date.now() - seedStarted) / 1000).toFixed(0)} s`);
    // Read once the runner has long started (it sets its priority first thing).
    const runner = runnerPid(pid);
    const jobSetting = runner
      ? `jobs in the server's job-runner child (LAYERMERGE_JOB_PROCESS=${jobProcess}, LAYERMERGE_JOB_PRIORITY=${jobPriority}): runner nice ${niceOf(runner)}, API nice ${niceOf(pid)}`
      : `jobs in the server process (LAYERMERGE_JOB_PROCESS=${jobProcess})`;
    console.log(jobSetting);

    // 1. Dashboard queries against the floor (before and after them). BENCH_PARTS=jobs (or
    // queries,health, …) runs only the parts named.
    const parts = (process.env.BENCH_PARTS ?? "queries,jobs,health").split(",");
    const [floor, ...queries] = dashboardQueries(registry);
    const { table, floorRate } = parts.includes("queries") ? await measureQueries(url, pid, floor!, queries) : { table: [], floorRate: null };
    if (table.length) console.table(table);

    // 2. Merge and evaluation jobs idle, then while the dashboard query saturates the server.
    let jobs = null;
    if (parts.includes("jobs")) {
      const evaluation = await seedEvaluation(url, origin, dir);
      // Saturated by executions, not cache hits: the harder load for the jobs.
      jobs = await jobsUnderLoad(url, registry, evaluation, { ...queries[0]!, headers: NO_CACHE }, CONNECTIONS, MODEL_FLOATS);
      printJobs(jobs);
    }

    // 3. /healthz while the most expensive accepted queries run.
    let health = null;
    let worstHealthP99 = null;
    if (parts.includes("health")) {
      health = await healthWhile(url, origin, registry.wide, WIDE_TENSORS);
      worstHealthP99 = Math.max(...health.slice(1).map((h) => h["healthz p99 ms"]));
      console.table(health);
      console.log(`/healthz p99 while the most expensive accepted queries run: ${worstHealthP99} ms (goal ≤ 100 ms)`);
    }

    const loadavg = os.loadavg();
    console.log(`machine: ${os.cpus().length} cores, load average ${loadavg.map((l) => l.toFixed(2)).join(" ")}; ${CONNECTIONS} connections, ${SECONDS} s per run`);
    const out = path.join(__dirname, "results", parts.length === 3 ? `api-${provider}.json` : `api-${provider}-${parts.join("-")}.json`);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, JSON.stringify({
      date: new Date().toISOString(), provider, connections: CONNECTIONS, seconds: SECONDS, models: registry.modelCount, floorReqPerSecond: floorRate, table,
      jobSetting, jobs,
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
