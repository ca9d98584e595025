import * as fs from "node:fs";
import * as path from "node:path";
import { spawn, spawnSync, ChildProcess } from "node:child_process";
import { createTestDatabase, TestDatabase } from "./support/testDatabase";
import { ensureBuilt, startLayermerge, RunningProcess } from "./support/processes";
import { gql, twoTensorModel, sleep } from "./support/remote";

/*
 * The distributed shape: a worker SIGKILLed in the middle of a merge leaves its partial output in
 * the shared scratch folder; the worker that takes the job over (after LAYERMERGE_JOB_LOCK_MS)
 * removes it, and the job succeeds once. The test's own redis-server on port 6402 and a fresh
 * PostgreSQL schema; runs when TEST_DATABASE_URL is set and redis-server is installed.
 */
const REDIS_PORT = 6402;
const hasRedisServer = spawnSync("redis-server", ["--version"]).status === 0;
const enabled = Boolean(process.env.TEST_DATABASE_URL) && hasRedisServer;
const describeDistributed = enabled ? describe : describe.skip;
if (!enabled) console.warn("distributedScratch.test.ts skipped: set TEST_DATABASE_URL and install redis-server to run it");

describeDistributed("distributed shape: a worker SIGKILLed mid-merge", () => {
  jest.setTimeout(180_000);
  let db: TestDatabase;
  let redis: ChildProcess;
  const processes: RunningProcess[] = [];

  beforeAll(async () => {
    ensureBuilt();
    db = await createTestDatabase("postgres");
    redis = spawn("redis-server", ["--port", String(REDIS_PORT), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: ["ignore", "pipe", "pipe"] });
    await new Promise<void>((resolve, reject) => {
      let out = "";
      redis.stdout!.on("data", (d) => {
        out += d;
        if (/Ready to accept connections/.test(out)) resolve();
      });
      redis.once("exit", (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
    });
  });
  afterAll(async () => {
    for (const p of processes) await p.kill("SIGKILL");
    if (redis && redis.exitCode === null) {
      const gone = new Promise((r) => redis.once("exit", r));
      redis.kill("SIGKILL");
      await gone;
    }
    await db?.cleanup();
  });

  test("the worker that takes the job over removes the dead run's scratch folder; the job succeeds once", async () => {
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL: `redis://127.0.0.1:${REDIS_PORT}`,
      LAYERMERGE_DATA_DIR: db.dataDir,
      LAYERMERGE_JOB_LOCK_MS: "2000",
      LAYERMERGE_WORKERS: "1",
      HOST: "127.0.0.1",
    };
    const tmp = path.join(db.dataDir, "artifacts", "tmp");
    const api = startLayermerge(["serve"], { ...env, PORT: "0" });
    processes.push(api);
    const url = (await api.waitFor(/serving GraphQL at (http:\/\/\S+\/graphql)/))[1];
    const workers = [startLayermerge(["worker"], env), startLayermerge(["worker"], env)];
    processes.push(...workers);
    await Promise.all(workers.map((w) => w.waitFor(/worker (\S+) running jobs/)));

    const taskId = (await gql(url, `mutation { createTask(input: { key: "t", name: "t", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    const ids: string[] = [];
    for (let s = 0; s < 3; s++) {
      const put = (await (await fetch(url.replace(/\/graphql$/, "/artifacts"), { method: "PUT", body: twoTensorModel(s, 24 << 20) })).json()) as { sha256: string };
      ids.push((await gql(url, `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: `m${s}`, taskId, artifactSha256: put.sha256 } })).registerModel.id);
    }
    const jobId = (await gql(url, `mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, { i: { anchorId: ids[0], modelIds: [ids[1], ids[2]], output: { name: "survivor" } } })).startMerge.id;

    // Once a worker has written part of the output, SIGKILL that worker (its pid is in the folder's name).
    let partial: string | undefined;
    while (!partial) {
      partial = fs.existsSync(tmp) ? fs.readdirSync(tmp).find((name) => name.startsWith("merge-") && (fs.statSync(path.join(tmp, name, "merged.safetensors"), { throwIfNoEntry: false })?.size ?? 0) > 0) : undefined;
      if (!partial) await sleep(2);
    }
    const victim = workers.find((w) => partial!.includes(`-${w.child.pid}-${jobId}-`));
    expect(victim).toBeDefined();
    await victim!.kill("SIGKILL");
    expect(fs.readdirSync(tmp)).toEqual([partial]);

    let job;
    for (;;) {
      ({ job } = await gql(url, `query($id: ID!) { job(id: $id) { status attempts model { name } } }`, { id: jobId }));
      if (!["QUEUED", "RUNNING"].includes(job.status)) break;
      await sleep(100);
    }
    expect(job).toMatchObject({ status: "SUCCEEDED", attempts: 2, model: { name: "survivor" } });
    expect((await gql(url, `{ models(where: { nameContains: "survivor" }) { totalCount } }`)).models.totalCount).toBe(1);
    expect(fs.readdirSync(tmp)).toEqual([]);
  });
});
