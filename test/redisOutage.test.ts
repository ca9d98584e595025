import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import IORedis from "ioredis";
import { createTestDatabase, TestDatabase } from "./support/testDatabase";
import { ensureBuilt, startLayermerge, RunningProcess } from "./support/processes";
import { haveRedisServer, ownRedis, OwnRedis } from "./support/redisServer";
import { tcpProxy, TcpProxy } from "./support/tcpProxy";
import { writeOnnxModel } from "../src/core/formats/onnx/testing/onnxModelWriter";
import { blockImage, colourNet, writeSemanticSample } from "../src/runtime/testing/evalFixtures";
import { openDatabase, Database } from "../src/persistence/database";
import { watchJob } from "./support/subscribe";
import { gql as post, twoTensorModel, sleep } from "./support/remote";

/*
 * Redis outages under a running system, with real processes: an API process and worker
 * processes over PostgreSQL (a fresh schema) and a redis-server of this test's own, without
 * persistence, which the test stops and starts by its PID. Ports 6391–6393 are this file's.
 */
const REDIS_PORT = 6391;
const CLOSED_REDIS_PORT = 6392;
const DB_TEST_REDIS_PORT = 6393;
const withPostgres = Boolean(process.env.TEST_DATABASE_URL) && haveRedisServer();
const describeWithPostgres = withPostgres ? describe : describe.skip;
if (!withPostgres) console.warn("redisOutage.test.ts: the outage tests need TEST_DATABASE_URL and redis-server; skipped");

// A request that Redis holds up never answers while Redis stays down: the timeout turns that
// into a failure instead of a hang.
const gql = (url: string, query: string, variables: Record<string, unknown> = {}) => post(url, query, variables, { timeoutMs: 20_000 });

async function exitOf(p: RunningProcess): Promise<number | null> {
  if (p.child.exitCode !== null) return p.child.exitCode;
  return new Promise((resolve) => p.child.once("exit", (code) => resolve(code)));
}

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const lines = (output: string, pattern: RegExp) => output.split("\n").filter((l) => pattern.test(l));
const STACK_FRAME = /^\s+at .+\(.+:\d+:\d+\)$|^\s+at \S+:\d+:\d+$/m;

describe("start-up messages name the service that is unreachable", () => {
  jest.setTimeout(60_000);
  beforeAll(() => ensureBuilt());

  test.each([["serve"], ["worker"]])("`%s` with an unreachable REDIS_URL prints one line naming Redis and its URL, password masked", async (command) => {
    const dataDir = fs.mkdtempSync(path.join(require("node:os").tmpdir(), "lm-outage-"));
    try {
      const p = startLayermerge([command], { REDIS_URL: `redis://:s3cret@127.0.0.1:${CLOSED_REDIS_PORT}`, DATABASE_URL: "", LAYERMERGE_DATA_DIR: dataDir, PORT: "0" });
      expect(await exitOf(p)).toBe(1);
      expect(p.output().trim()).toBe(`layermerge: cannot reach Redis at redis://:***@127.0.0.1:${CLOSED_REDIS_PORT}: connect ECONNREFUSED 127.0.0.1:${CLOSED_REDIS_PORT}`);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test("`worker` with an unreachable PostgreSQL prints one line naming PostgreSQL and its URL, password masked", async () => {
    const dataDir = fs.mkdtempSync(path.join(require("node:os").tmpdir(), "lm-outage-"));
    try {
      const port = await closedPort();
      const p = startLayermerge(["worker"], { DATABASE_URL: `postgresql://postgres:s3cret@127.0.0.1:${port}/registry`, REDIS_URL: `redis://127.0.0.1:${CLOSED_REDIS_PORT}`, LAYERMERGE_DATA_DIR: dataDir });
      expect(await exitOf(p)).toBe(1);
      expect(p.output().trim()).toBe(`layermerge: cannot reach PostgreSQL at postgresql://postgres:***@127.0.0.1:${port}/registry: connect ECONNREFUSED 127.0.0.1:${port}`);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describeWithPostgres("Redis outages under a running API and workers", () => {
  jest.setTimeout(240_000);
  let db: TestDatabase;
  let redis: OwnRedis;
  let database: Database;
  let env: Record<string, string>;
  const processes: RunningProcess[] = [];

  beforeAll(async () => {
    ensureBuilt();
    db = await createTestDatabase("postgres");
    redis = ownRedis(REDIS_PORT);
    await redis.start();
    env = {
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      LAYERMERGE_QUEUE_PREFIX: `lmtest-${randomBytes(4).toString("hex")}`,
      LAYERMERGE_DATA_DIR: db.dataDir,
      LAYERMERGE_DATASET_ROOTS: db.dataDir,
      LAYERMERGE_JOB_LOCK_MS: "1500",
      LAYERMERGE_RECONCILE_MS: "300",
      LAYERMERGE_WORKERS: "1",
      LOG_LEVEL: "info",
      HOST: "127.0.0.1",
    };
  });
  afterAll(async () => {
    for (const p of processes) {
      if (p.child.pid && p.child.exitCode === null) {
        try {
          process.kill(p.child.pid, "SIGCONT");
        } catch {
          // already gone
        }
      }
      await p.kill("SIGKILL");
    }
    await database?.close();
    await redis?.stop();
    if (db) await db.cleanup();
  });

  test("jobs survive Redis losing its data and being down: requests answer at once, every job completes once, each outage is one warning and one recovery line", async () => {
    const api = startLayermerge(["serve"], { ...env, PORT: "0" });
    processes.push(api);
    const url = (await api.waitFor(/serving GraphQL at (http:\/\/\S+\/graphql)/))[1];
    const origin = url.replace(/\/graphql$/, "");
    const first = startLayermerge(["worker"], env);
    processes.push(first);
    const firstName = (await first.waitFor(/worker (\S+) running jobs/))[1];
    database = await openDatabase(db.url, { migrate: false });
    const prisma = database.prisma;
    const queueKey = (id: string) => `${env.LAYERMERGE_QUEUE_PREFIX}:jobs:${id}`;
    const inspect = new IORedis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    inspect.on("error", () => undefined);

    // Registry contents: two large models (merges that take a moment), small ones, a dataset.
    const taskId = (await gql(url, `mutation { createTask(input: { key: "sem", name: "Semantic", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    const register = async (name: string, bytes: Uint8Array, inference?: unknown) => {
      const put = (await (await fetch(`${origin}/artifacts`, { method: "PUT", body: bytes })).json()) as { sha256: string };
      return (await gql(url, `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name, taskId, artifactSha256: put.sha256, inference } })).registerModel.id as string;
    };
    const big = [await register("big0", twoTensorModel(0, 6 << 20)), await register("big1", twoTensorModel(1, 6 << 20))];
    const small = [await register("small0", twoTensorModel(0, 1024)), await register("small1", twoTensorModel(1, 1024))];
    const datasetDir = path.join(db.dataDir, "dataset");
    const img = blockImage([[0, 1], [2, 0]], 16);
    for (let i = 0; i < 2; i++) await writeSemanticSample(datasetDir, `img${i}`, img.width, img.height, img.rgb, img.classes);
    const classes = [{ id: 0, name: "red", isThing: false }, { id: 1, name: "green", isThing: false }, { id: 2, name: "blue", isThing: true }];
    const datasetId = (await gql(url, `mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, { i: { name: "blocks", taskId, format: "SEMANTIC_PNG", location: datasetDir, classes } })).createDataset.id;
    const contract = { inputName: "image", width: 32, height: 32, resize: { mode: "FIXED" }, mean: [0, 0, 0], std: [1, 1, 1], outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" }] };
    const onnx = [await register("onnx0", writeOnnxModel(colourNet({ bias: [0, 0, 0] })).bytes, contract), await register("onnx1", writeOnnxModel(colourNet({ bias: [0, 0.001, 0] })).bytes, contract)];

    const startMerge = async (anchor: string, other: string, cutoff: number, name: string) =>
      (await gql(url, `mutation($i: StartMergeInput!) { startMerge(input: $i) { id status } }`, { i: { anchorId: anchor, modelIds: [other], schedule: { kind: "STEP", cutoff }, output: { name } } })).startMerge as { id: string; status: string };
    const startEvaluation = async (modelId: string) =>
      (await gql(url, `mutation($i: StartEvaluationInput!) { startEvaluation(input: $i) { id status } }`, { i: { modelId, datasetId } })).startEvaluation as { id: string; status: string };

    // 1. Three large merges run one after the other on the first worker; freeze it (SIGSTOP)
    //    while one of them is RUNNING, so that job's heartbeat goes stale.
    const bigJobs = [await startMerge(big[0], big[1], 0.25, "big-a"), await startMerge(big[1], big[0], 0.5, "big-b"), await startMerge(big[0], big[1], 0.75, "big-c")].map((j) => j.id);
    let frozen: string | null = null;
    for (let tries = 0; tries < 4000 && !frozen; tries++) {
      const running = await prisma.job.findFirst({ where: { status: "RUNNING", worker: firstName } });
      if (running) {
        process.kill(first.child.pid!, "SIGSTOP");
        await sleep(200);
        if ((await prisma.job.findUniqueOrThrow({ where: { id: running.id } })).status === "RUNNING") frozen = running.id;
        else process.kill(first.child.pid!, "SIGCONT");
      } else await sleep(5);
    }
    expect(frozen).not.toBeNull();

    // 2. More jobs while the worker is frozen: QUEUED in the database and present in Redis.
    const queuedJobs = [(await startMerge(small[0], small[1], 0.5, "small-a")).id, (await startMerge(small[1], small[0], 0.5, "small-b")).id, (await startEvaluation(onnx[0])).id];
    await inspect.connect();
    for (const id of queuedJobs) expect(await inspect.exists(queueKey(id))).toBe(1);
    expect((await prisma.job.findMany({ where: { id: { in: queuedJobs } } })).map((j) => j.status)).toEqual(["QUEUED", "QUEUED", "QUEUED"]);
    await inspect.set("sentinel", "before the restart");
    inspect.disconnect();

    // 3. Redis loses everything: killed, started again empty. The frozen worker dies for good
    //    (its job stays RUNNING in the database, gone from Redis) and a new worker starts.
    await redis.stop();
    await api.waitFor(/"level":40.*Redis at redis:\/\/127\.0\.0\.1:6391 is unreachable/);
    await redis.start();
    const fresh = new IORedis(redis.url, { maxRetriesPerRequest: 1 });
    expect(await fresh.get("sentinel")).toBeNull();
    fresh.disconnect();
    await first.kill("SIGKILL");
    const second = startLayermerge(["worker"], env);
    processes.push(second);
    const secondName = (await second.waitFor(/worker (\S+) running jobs/))[1];

    // The n-th warning / recovery line about this Redis in a process's output.
    const nthWarning = (n: number) => new RegExp(`(?:[\\s\\S]*"level":40.*Redis at redis:\\/\\/127\\.0\\.0\\.1:${REDIS_PORT} is unreachable){${n}}`);
    const nthRecovery = (n: number) => new RegExp(`(?:[\\s\\S]*"level":30.*Redis at redis:\\/\\/127\\.0\\.0\\.1:${REDIS_PORT} is reachable again){${n}}`);
    const settle = async (ids: string[]) => {
      for (let tries = 0; tries < 1200; tries++) {
        const jobs = await prisma.job.findMany({ where: { id: { in: ids } } });
        if (jobs.every((j) => !["QUEUED", "RUNNING"].includes(j.status))) return jobs;
        await sleep(100);
      }
      const jobs = await prisma.job.findMany({ where: { id: { in: ids } }, select: { id: true, status: true, message: true } });
      throw new Error(`jobs did not finish: ${JSON.stringify(jobs)}`);
    };
    const afterLoss = await settle([...bigJobs, ...queuedJobs]);
    expect(afterLoss.filter((j) => j.status !== "SUCCEEDED").map((j) => [j.id, j.status, j.error])).toEqual([]);
    const victim = afterLoss.find((j) => j.id === frozen)!;
    expect(victim.worker).toBe(secondName);
    expect(victim.attempts).toBe(2);

    // 4. Redis down: both mutations answer (the job is QUEUED in the database) before Redis is
    //    started again; then the jobs run.
    await redis.stop();
    await api.waitFor(nthWarning(2));
    await second.waitFor(nthWarning(1));
    const whileDown = [await startMerge(small[0], small[1], 0.9, "while-down"), await startEvaluation(onnx[1])];
    expect(whileDown.map((j) => j.status)).toEqual(["QUEUED", "QUEUED"]);
    expect((await prisma.job.findMany({ where: { id: { in: whileDown.map((j) => j.id) } } })).map((j) => j.status)).toEqual(["QUEUED", "QUEUED"]);
    await redis.start();
    const afterDown = await settle(whileDown.map((j) => j.id));
    expect(afterDown.map((j) => j.status)).toEqual(["SUCCEEDED", "SUCCEEDED"]);

    // 5. A job that ends while Redis is down: its jobUpdated stream (graphql-ws, on the API)
    //    missed the publication, and still ends with SUCCEEDED once Redis is back.
    const ending = (await startMerge(big[1], big[0], 0.6, "ends-during-outage")).id;
    const watched = watchJob(url, ending);
    for (let tries = 0; tries < 4000; tries++) {
      if ((await prisma.job.findUniqueOrThrow({ where: { id: ending } })).status !== "QUEUED") break;
      await sleep(5);
    }
    process.kill(second.child.pid!, "SIGSTOP");
    await sleep(200);
    // Frozen in the middle of the merge: it ends only after Redis is gone.
    expect((await prisma.job.findUniqueOrThrow({ where: { id: ending } })).status).toBe("RUNNING");
    await redis.stop();
    await api.waitFor(nthWarning(3));
    process.kill(second.child.pid!, "SIGCONT");
    await second.waitFor(nthWarning(2));
    for (let tries = 0; tries < 600; tries++) {
      if ((await prisma.job.findUniqueOrThrow({ where: { id: ending } })).status === "SUCCEEDED") break;
      await sleep(100);
    }
    expect((await prisma.job.findUniqueOrThrow({ where: { id: ending } })).status).toBe("SUCCEEDED");
    await redis.start();
    const stream = await Promise.race([watched.done, new Promise((resolve) => setTimeout(() => resolve("the stream did not end"), 20_000).unref())]);
    expect(stream).toEqual(expect.arrayContaining([expect.objectContaining({ id: ending, status: "SUCCEEDED" })]));

    // Every job produced exactly one result.
    const mergeJobs = [...bigJobs, queuedJobs[0], queuedJobs[1], whileDown[0].id, ending];
    const merges = await prisma.merge.findMany({ where: { jobId: { in: mergeJobs } } });
    expect(merges.map((m) => m.jobId).sort()).toEqual([...mergeJobs].sort());
    const evalJobs = [queuedJobs[2], whileDown[1].id];
    const evaluations = await prisma.evaluation.findMany({ where: { jobId: { in: evalJobs } } });
    expect(evaluations.map((e) => e.jobId).sort()).toEqual([...evalJobs].sort());
    for (const name of ["big-a", "big-b", "big-c", "small-a", "small-b", "while-down", "ends-during-outage"]) expect(await prisma.model.count({ where: { name } })).toBe(1);

    // The logs: per process, one warning per outage and one line when Redis is back, naming
    // Redis and its URL; no stack traces.
    await api.waitFor(nthRecovery(3));
    await second.waitFor(nthRecovery(2));
    const warned = (p: RunningProcess) => lines(p.output(), /"level":40.*Redis at redis:\/\/127\.0\.0\.1:6391 is unreachable/).length;
    const recovered = (p: RunningProcess) => lines(p.output(), /"level":30.*Redis at redis:\/\/127\.0\.0\.1:6391 is reachable again/).length;
    expect([warned(api), recovered(api)]).toEqual([3, 3]);
    expect([warned(second), recovered(second)]).toEqual([2, 2]);
    for (const p of [api, first, second]) {
      expect(p.output()).not.toMatch(STACK_FRAME);
      expect(p.output()).not.toMatch(/Unhandled|unhandled/);
    }
    expect(api.child.exitCode).toBeNull();
    expect(second.child.exitCode).toBeNull();

    // 6. Redis down once more: cancelling a queued job answers (its events cannot be published,
    //    nor its queue entry removed), and both processes stop cleanly on SIGTERM — nothing
    //    waits for Redis, no publication is left to reject unhandled.
    //    The job is queued in Redis too (the worker is frozen meanwhile, so it stays queued).
    process.kill(second.child.pid!, "SIGSTOP");
    const doomed = await startMerge(small[0], small[1], 0.1, "never-run");
    await redis.stop();
    await api.waitFor(nthWarning(4));
    process.kill(second.child.pid!, "SIGCONT");
    const cancelled = (await gql(url, `mutation($id: ID!) { cancelJob(id: $id) { status } }`, { id: doomed.id })).cancelJob;
    expect(cancelled.status).toBe("CANCELLED");
    const exits = await Promise.all([api, second].map((p) => {
      const exited = exitOf(p);
      p.child.kill("SIGTERM");
      return Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve("still running after 30 s"), 30_000).unref())]);
    }));
    expect(exits).toEqual([0, 0]);
    for (const p of [api, second]) {
      expect(p.output()).not.toMatch(STACK_FRAME);
      expect(p.output()).not.toMatch(/Unhandled|unhandled|Connection is closed/);
    }
    expect((await prisma.job.findUniqueOrThrow({ where: { id: doomed.id } })).status).toBe("CANCELLED");
  });
});

describeWithPostgres("the database down under a running API and worker", () => {
  jest.setTimeout(120_000);
  let db: TestDatabase;
  let redis: OwnRedis;
  let proxy: TcpProxy;
  const processes: RunningProcess[] = [];

  beforeAll(async () => {
    ensureBuilt();
    db = await createTestDatabase("postgres");
    redis = ownRedis(DB_TEST_REDIS_PORT);
    await redis.start();
    const target = new URL(db.url);
    proxy = await tcpProxy(target.hostname, Number(target.port || 5432));
  });
  afterAll(async () => {
    for (const p of processes) await p.kill("SIGKILL");
    await proxy?.close();
    await redis?.stop();
    if (db) await db.cleanup();
  });

  test("requests answer SERVICE_UNAVAILABLE (HTTP 503); API and worker log one warning naming PostgreSQL and one line when it is back", async () => {
    // The processes reach PostgreSQL through the proxy, with a password in the URL (ignored by
    // the test server, which trusts loopback) that must never be printed.
    const viaProxy = new URL(db.url);
    viaProxy.port = String(proxy.port);
    viaProxy.password = "s3cret";
    const env = {
      DATABASE_URL: viaProxy.toString(),
      REDIS_URL: redis.url,
      LAYERMERGE_QUEUE_PREFIX: `lmtest-${randomBytes(4).toString("hex")}`,
      LAYERMERGE_DATA_DIR: db.dataDir,
      LAYERMERGE_RECONCILE_MS: "300",
      LOG_LEVEL: "info",
      HOST: "127.0.0.1",
    };
    const api = startLayermerge(["serve"], { ...env, PORT: "0" });
    processes.push(api);
    const url = (await api.waitFor(/serving GraphQL at (http:\/\/\S+\/graphql)/))[1];
    const worker = startLayermerge(["worker"], env);
    processes.push(worker);
    await worker.waitFor(/worker (\S+) running jobs/);
    const post = async (query: string) => {
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query }), signal: AbortSignal.timeout(20_000) });
      return { status: res.status, body: (await res.json()) as { data?: any; errors?: Array<{ message: string; extensions?: { code?: string } }> } };
    };
    const createTask = (key: string) => post(`mutation { createTask(input: { key: "${key}", name: "t", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`);
    expect((await createTask("before")).status).toBe(200);

    await proxy.cut();
    for (const response of [await createTask("during"), await post(`mutation { startMerge(input: { anchorId: "a", modelIds: ["b"] }) { id } }`), await post(`{ jobs(first: 5) { totalCount } }`)]) {
      expect(response.status).toBe(503);
      expect(response.body.errors?.map((e) => e.extensions?.code)).toEqual(["SERVICE_UNAVAILABLE"]);
    }
    const masked = `PostgreSQL at postgresql://postgres:\\*\\*\\*@127\\.0\\.0\\.1:${proxy.port}/`;
    const warning = new RegExp(`"level":40.*${masked}\\S* is unreachable`);
    const recovery = new RegExp(`"level":30.*${masked}\\S* is reachable again`);
    await worker.waitFor(warning);
    await api.waitFor(warning);

    await proxy.restore();
    await worker.waitFor(recovery);
    await api.waitFor(recovery);
    const after = await createTask("after");
    expect(after.status).toBe(200);
    expect(after.body.data.createTask.id).toEqual(expect.any(String));

    for (const p of [api, worker]) {
      expect([lines(p.output(), warning).length, lines(p.output(), recovery).length]).toEqual([1, 1]);
      expect(p.output()).not.toContain("s3cret");
      expect(p.output()).not.toMatch(STACK_FRAME);
      expect(p.child.exitCode).toBeNull();
    }
  });
});
