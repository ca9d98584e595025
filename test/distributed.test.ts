import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import IORedis from "ioredis";
import { createTestDatabase, TestDatabase } from "./support/testDatabase";
import { ensureBuilt, startLayermerge, RunningProcess } from "./support/processes";
import { watchJob } from "./support/subscribe";
import { writeOnnxModel } from "../src/core/formats/onnx/testing/onnxModelWriter";
import { blockImage, colourNet, writeSemanticSample } from "../src/runtime/testing/evalFixtures";
import { openDatabase } from "../src/persistence/database";
import { gql, twoTensorModel } from "./support/remote";

/*
 * The distributed shape with real processes on loopback: one API and two workers over
 * the machine's PostgreSQL and Redis, 20 merges and 20 evaluations enqueued at once, one worker
 * SIGKILLed while it runs a job. Runs when TEST_DATABASE_URL and REDIS_URL are set (.ci/run sets
 * both).
 */
const enabled = Boolean(process.env.TEST_DATABASE_URL && process.env.REDIS_URL);
const describeDistributed = enabled ? describe : describe.skip;
if (!enabled) console.warn("distributed.test.ts skipped: set TEST_DATABASE_URL and REDIS_URL to run it");

describeDistributed("distributed shape with real processes", () => {
  jest.setTimeout(300_000);
  let db: TestDatabase;
  let dataDir: string;
  let env: Record<string, string>;
  const processes: RunningProcess[] = [];

  beforeAll(async () => {
    ensureBuilt();
    db = await createTestDatabase("postgres");
    dataDir = db.dataDir;
    env = {
      DATABASE_URL: db.url,
      REDIS_URL: process.env.REDIS_URL!,
      LAYERMERGE_QUEUE_PREFIX: `lmtest-${randomBytes(4).toString("hex")}`,
      LAYERMERGE_DATA_DIR: dataDir,
      LAYERMERGE_JOB_LOCK_MS: "2000",
      LAYERMERGE_WORKERS: "1",
      HOST: "127.0.0.1",
    };
  });
  afterAll(async () => {
    for (const p of processes) await p.kill("SIGKILL");
    if (db) await db.cleanup();
    // Leave the shared Redis as it was: drop this run's queue keys.
    if (env) {
      const redis = new IORedis(process.env.REDIS_URL!);
      const keys = await redis.keys(`${env.LAYERMERGE_QUEUE_PREFIX}:*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
  });

  test("20 merges and 20 evaluations across two workers; a SIGKILLed worker's job is taken over; every job succeeds exactly once", async () => {
    const api = startLayermerge(["serve"], { ...env, PORT: "0" });
    processes.push(api);
    const url = (await api.waitFor(/serving GraphQL at (http:\/\/\S+\/graphql)/))[1];
    const origin = url.replace(/\/graphql$/, "");
    const workers = [startLayermerge(["worker"], env), startLayermerge(["worker"], env)];
    processes.push(...workers);
    const names = await Promise.all(workers.map(async (w) => (await w.waitFor(/worker (\S+) running jobs/))[1]));

    // Registry contents: a task, a dataset on disk, 3 large models to merge, 20 small ONNX models to evaluate.
    const taskId = (await gql(url, `mutation { createTask(input: { key: "sem", name: "Semantic", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    const datasetDir = path.join(dataDir, "datasets", "blocks"); // under the default dataset root
    const img = blockImage([[0, 1], [2, 0]], 16);
    for (let i = 0; i < 40; i++) await writeSemanticSample(datasetDir, `img${i}`, img.width, img.height, img.rgb, img.classes);
    const classes = [{ id: 0, name: "red", isThing: false }, { id: 1, name: "green", isThing: false }, { id: 2, name: "blue", isThing: true }];
    const datasetId = (await gql(url, `mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, { i: { name: "blocks", taskId, format: "SEMANTIC_PNG", location: datasetDir, classes } })).createDataset.id;
    const register = async (name: string, bytes: Uint8Array, inference?: unknown) => {
      const put = (await (await fetch(`${origin}/artifacts`, { method: "PUT", body: bytes })).json()) as { sha256: string };
      return (await gql(url, `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name, taskId, artifactSha256: put.sha256, inference } })).registerModel.id as string;
    };
    const big: string[] = [];
    for (let s = 0; s < 3; s++) big.push(await register(`big${s}`, twoTensorModel(s, 12 << 20)));
    const contract = { inputName: "image", width: 32, height: 32, resize: { mode: "FIXED" }, mean: [0, 0, 0], std: [1, 1, 1], outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" }] };
    const small: string[] = [];
    for (let s = 0; s < 20; s++) small.push(await register(`small${s}`, writeOnnxModel(colourNet({ bias: [0, s / 1000, 0] })).bytes, contract));

    // Enqueue everything at once: 20 distinct merge recipes (STEP cutoffs) and 20 evaluations.
    const mergeJobs: string[] = [];
    const evalJobs: string[] = [];
    await Promise.all([
      ...Array.from({ length: 20 }, async (_, k) => {
        const r = await gql(url, `mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, {
          i: { anchorId: big[k % 3], modelIds: [big[(k + 1) % 3]], schedule: { kind: "STEP", cutoff: (k + 1) / 21 }, output: { name: `merged-${k}` } },
        });
        mergeJobs.push(r.startMerge.id);
      }),
      ...small.map(async (modelId) => {
        const r = await gql(url, `mutation($i: StartEvaluationInput!) { startEvaluation(input: $i) { id } }`, { i: { modelId, datasetId } });
        evalJobs.push(r.startEvaluation.id);
      }),
    ]);
    const allJobs = [...mergeJobs, ...evalJobs];
    const watched = allJobs.map((id) => watchJob(url, id).done);

    // SIGKILL the first worker while it runs a merge.
    const prisma = (await openDatabase(db.url, { migrate: false })).prisma;
    let victimJob: string | null = null;
    for (let tries = 0; tries < 3000 && !victimJob; tries++) {
      const running = await prisma.job.findFirst({ where: { status: "RUNNING", kind: "MERGE", worker: names[0] } });
      if (running) victimJob = running.id;
      else await new Promise((r) => setTimeout(r, 10));
    }
    expect(victimJob).not.toBeNull();
    await workers[0].kill("SIGKILL");

    const streams = await Promise.all(watched);
    const jobs = await prisma.job.findMany({ where: { id: { in: allJobs } } });
    expect(jobs.filter((j) => j.status !== "SUCCEEDED").map((j) => [j.id, j.status, j.error])).toEqual([]);
    const taken = jobs.find((j) => j.id === victimJob)!;
    expect(taken.attempts).toBeGreaterThanOrEqual(2);
    expect(taken.worker).toBe(names[1]);

    // Exactly one result per job, and no orphan artifacts.
    const merges = await prisma.merge.findMany({ where: { jobId: { in: mergeJobs } } });
    expect(merges).toHaveLength(20);
    expect(new Set(merges.map((m) => m.jobId)).size).toBe(20);
    expect(await prisma.model.count({ where: { name: { startsWith: "merged-" } } })).toBe(20);
    const evaluations = await prisma.evaluation.findMany({ where: { jobId: { in: evalJobs } } });
    expect(evaluations).toHaveLength(20);
    expect(new Set(evaluations.map((e) => e.jobId)).size).toBe(20);
    const blobs: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory() && e.name !== "tmp") walk(path.join(d, e.name));
        else if (e.isFile()) blobs.push(e.name);
      }
    };
    walk(path.join(dataDir, "artifacts"));
    const known = new Set((await prisma.artifact.findMany({ select: { sha256: true } })).map((a) => a.sha256));
    expect(blobs.filter((b) => !known.has(b))).toEqual([]);
    expect(blobs.length).toBe(known.size);

    // Subscriptions saw the progress: every stream ended SUCCEEDED, merges reported progress on the way.
    for (const s of streams) expect(s[s.length - 1].status).toBe("SUCCEEDED");
    const mergeStreams = streams.slice(0, 20);
    expect(mergeStreams.filter((s) => s.some((u: any) => u.status === "RUNNING" && u.progress > 0 && u.progress < 1)).length).toBeGreaterThan(10);

    // Health and metrics from the API process.
    const health = (await (await fetch(`${origin}/healthz`)).json()) as Record<string, string>;
    expect(health).toEqual({ status: "ok", database: "ok", artifacts: "ok", redis: "ok" });
    const metrics = await (await fetch(`${origin}/metrics`)).text();
    expect(metrics).toMatch(/^layermerge_jobs\{status="SUCCEEDED",kind="MERGE"\} 20$/m);
    expect(metrics).toMatch(/^layermerge_jobs\{status="SUCCEEDED",kind="EVALUATE"\} 20$/m);
    await prisma.$disconnect();
    const redis = new IORedis(process.env.REDIS_URL!);
    // The queue's keys carry the test's prefix (several runs can share one Redis).
    expect((await redis.keys(`${env.LAYERMERGE_QUEUE_PREFIX}:*`)).length).toBeGreaterThan(0);
    redis.disconnect();
  });
});

describe("embedded shape: a restart in the middle of a merge", () => {
  jest.setTimeout(180_000);
  test("the job resumes after the server restarts and finishes once", async () => {
    ensureBuilt();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-restart-"));
    // Embedded: no Redis and the default SQLite file, whatever the test process was given.
    const env = { LAYERMERGE_DATA_DIR: dataDir, PORT: "0", REDIS_URL: "", DATABASE_URL: "" };
    let server = startLayermerge(["serve"], env);
    try {
      let url = (await server.waitFor(/serving GraphQL at (http:\/\/\S+\/graphql)/))[1];
      const taskId = (await gql(url, `mutation { createTask(input: { key: "t", name: "t", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
      const ids: string[] = [];
      for (let s = 0; s < 3; s++) {
        const put = (await (await fetch(url.replace(/\/graphql$/, "/artifacts"), { method: "PUT", body: twoTensorModel(s, 24 << 20) })).json()) as { sha256: string };
        ids.push((await gql(url, `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: `m${s}`, taskId, artifactSha256: put.sha256 } })).registerModel.id);
      }
      const jobId = (await gql(url, `mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, { i: { anchorId: ids[0], modelIds: [ids[1], ids[2]], output: { name: "survivor" } } })).startMerge.id;
      for (;;) {
        const { job } = await gql(url, `query($id: ID!) { job(id: $id) { status } }`, { id: jobId });
        if (job.status === "RUNNING") break;
        expect(job.status).toBe("QUEUED");
        await new Promise((r) => setTimeout(r, 5));
      }
      await server.kill("SIGKILL");
      server = startLayermerge(["serve"], env);
      url = (await server.waitFor(/serving GraphQL at (http:\/\/\S+\/graphql)/))[1];
      let job;
      for (;;) {
        ({ job } = await gql(url, `query($id: ID!) { job(id: $id) { status attempts model { name } } }`, { id: jobId }));
        if (!["QUEUED", "RUNNING"].includes(job.status)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(job).toMatchObject({ status: "SUCCEEDED", attempts: 2, model: { name: "survivor" } });
      const { models } = await gql(url, `{ models(where: { nameContains: "survivor" }) { totalCount } }`);
      expect(models.totalCount).toBe(1);
    } finally {
      await server.kill("SIGKILL");
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
