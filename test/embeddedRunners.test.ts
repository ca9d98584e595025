import * as fs from "node:fs";
import * as path from "node:path";
import { createTestDatabase, TestDatabase } from "./support/testDatabase";
import { ensureBuilt, startLayermerge, RunningProcess } from "./support/processes";
import { openDatabase, type Database } from "../src/persistence/database";
import { pidScope } from "../src/jobs/processIdentity";
import { gql, twoTensorModel, sleep } from "./support/remote";
import { upload } from "./support/http";

/*
 * Two API processes on one PostgreSQL database and no Redis: each runs the embedded job runner
 * over the same Job table. A job must run exactly once — claimed by one process, never taken from
 * a live process, taken over only from a dead one. Runs when TEST_DATABASE_URL is set. The
 * runners run inline (in the API processes, which the test pauses and kills); the default
 * job-runner child is the same runner in a process of its own (jobProcess.test.ts).
 */
const enabled = Boolean(process.env.TEST_DATABASE_URL);
const describePostgres = enabled ? describe : describe.skip;
if (!enabled) console.warn("embeddedRunners.test.ts skipped: set TEST_DATABASE_URL to run it");

describePostgres("embedded runners of two API processes on one PostgreSQL", () => {
  jest.setTimeout(180_000);
  let db: TestDatabase;
  let database: Database;
  let env: Record<string, string>;
  const processes: RunningProcess[] = [];
  const serve = async (extra: Record<string, string> = {}) => {
    const p = startLayermerge(["serve"], { ...env, ...extra });
    processes.push(p);
    return { process: p, url: (await p.waitFor(/serving GraphQL at (http:\/\/\S+\/graphql)/))[1] };
  };
  let taskId: string;
  const register = async (url: string, name: string, bytes: Uint8Array) => {
    const put = (await upload(url.replace(/\/graphql$/, ""), bytes)).body as { sha256: string };
    return (await gql(url, `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name, taskId, artifactSha256: put.sha256 } })).registerModel.id as string;
  };
  const finished = async (ids: string[]) => {
    for (;;) {
      const jobs = await database.prisma.job.findMany({ where: { id: { in: ids } } });
      if (jobs.length === ids.length && jobs.every((j) => !["QUEUED", "RUNNING"].includes(j.status))) return jobs;
      await sleep(100);
    }
  };
  const runningOn = async (jobId: string) => {
    for (;;) {
      const job = await database.prisma.job.findUniqueOrThrow({ where: { id: jobId } });
      // Claimed, and its run begun (the run counts its attempt).
      if (job.status === "RUNNING" && job.attempts > 0) return job;
      expect(["QUEUED", "RUNNING"]).toContain(job.status);
      await sleep(5);
    }
  };

  beforeAll(async () => {
    ensureBuilt();
    db = await createTestDatabase("postgres");
    env = { DATABASE_URL: db.url, LAYERMERGE_DATA_DIR: db.dataDir, REDIS_URL: "", PORT: "0", HOST: "127.0.0.1", LAYERMERGE_WORKERS: "2", LAYERMERGE_JOB_LOCK_MS: "600000", LAYERMERGE_JOB_PROCESS: "inline" };
    // One process applies the migrations and creates the task; the tests start their own.
    const setup = await serve();
    database = await openDatabase(db.url, { migrate: false });
    taskId = (await gql(setup.url, `mutation { createTask(input: { key: "t", name: "t", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    await setup.process.kill();
  });
  afterEach(async () => {
    for (const p of processes.splice(0)) await p.kill("SIGKILL");
  });
  afterAll(async () => {
    for (const p of processes.splice(0)) await p.kill("SIGKILL");
    await database?.close();
    await db?.cleanup();
  });

  test("40 merges queued through both processes: each job runs exactly once, and both processes run jobs", async () => {
    const servers = [await serve(), await serve()];
    const ids: string[] = [];
    for (let s = 0; s < 3; s++) ids.push(await register(servers[0].url, `small${s}`, twoTensorModel(s, 1 << 16)));
    // Distinct recipes (STEP cutoffs), sent alternately to the two processes, all at once: each
    // process's runner looks for the oldest QUEUED job as soon as it has a free slot.
    const jobIds = await Promise.all(
      Array.from({ length: 40 }, async (_, k) => {
        const r = await gql(servers[k % 2].url, `mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, {
          i: { anchorId: ids[k % 3], modelIds: [ids[(k + 1) % 3]], schedule: { kind: "STEP", cutoff: (k + 1) / 41 }, output: { name: `many-${k}` } },
        });
        return r.startMerge.id as string;
      }),
    );
    const jobs = await finished(jobIds);
    expect(jobs.filter((j) => j.status !== "SUCCEEDED").map((j) => [j.id, j.status, j.error])).toEqual([]);
    // Every run counts an attempt: a job claimed by both processes would show 2.
    expect(jobs.filter((j) => j.attempts !== 1).map((j) => [j.id, j.attempts])).toEqual([]);
    expect(new Set(jobs.map((j) => j.worker)).size).toBe(2);
    const merges = await database.prisma.merge.findMany({ where: { jobId: { in: jobIds } } });
    expect(merges).toHaveLength(40);
    expect(await database.prisma.model.count({ where: { name: { startsWith: "many-" } } })).toBe(40);
  });

  test("a process that starts while another runs a job leaves it alone; cancelJob reaches the process that runs it; a SIGKILLed process's job is taken over by the live one", async () => {
    const first = await serve();
    const ids: string[] = [];
    for (let s = 0; s < 3; s++) ids.push(await register(first.url, `big${s}`, twoTensorModel(10 + s, 24 << 20)));
    const start = async (name: "kept" | "stopped" | "orphan") =>
      (await gql(first.url, `mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, { i: { anchorId: ids[0], modelIds: [ids[1], ids[2]], schedule: { kind: "STEP", cutoff: { kept: 0.3, stopped: 0.5, orphan: 0.7 }[name] }, output: { name } } }))
        .startMerge.id as string;

    // 1. The second process starts while the first runs a merge: the merge stays the first's.
    // The first is paused (SIGSTOP) meanwhile, so its merge is certainly still running; the lock
    // time is long (LAYERMERGE_JOB_LOCK_MS), so nothing but a wrong take-over could move the job —
    // and the take-over in 3. is by the dead pid alone.
    const kept = await start("kept");
    const running = await runningOn(kept);
    first.process.child.kill("SIGSTOP");
    const second = await serve();
    await sleep(2500); // one heartbeat tick of the second process, which also looks for jobs to take over
    expect(await database.prisma.job.findUniqueOrThrow({ where: { id: kept } })).toMatchObject({ status: "RUNNING", attempts: 1, worker: running.worker });
    first.process.child.kill("SIGCONT");
    const [keptJob] = await finished([kept]);
    expect(keptJob).toMatchObject({ status: "SUCCEEDED", attempts: 1, worker: running.worker });

    // 2. cancelJob asked of the process that does not run the merge stops it where it runs.
    const stopped = await start("stopped");
    const victimOfCancel = await runningOn(stopped);
    const [runner, elsewhere] = victimOfCancel.worker === `${pidScope()}:${first.process.child.pid}` ? [first, second] : [second, first];
    expect(victimOfCancel.worker).toBe(`${pidScope()}:${runner.process.child.pid}`);
    // The runner is paused while the other process takes the request, for longer than its
    // heartbeat interval, so that on resuming its overdue heartbeat comes before the merge ends.
    runner.process.child.kill("SIGSTOP");
    await gql(elsewhere.url, `mutation($id: ID!) { cancelJob(id: $id) { id } }`, { id: stopped });
    await sleep(2500);
    runner.process.child.kill("SIGCONT");
    const [stoppedJob] = await finished([stopped]);
    expect(stoppedJob).toMatchObject({ status: "CANCELLED", attempts: 1 });
    expect(await database.prisma.merge.count({ where: { jobId: stopped } })).toBe(0);

    // 3. The process running a merge dies: the other, which sees that its pid is gone on this
    // host, takes the job over without a restart (and without waiting for its lock time).
    const orphan = await start("orphan");
    const victim = await runningOn(orphan);
    const [dying, surviving] = victim.worker === `${pidScope()}:${first.process.child.pid}` ? [first, second] : [second, first];
    expect(victim.worker).toBe(`${pidScope()}:${dying.process.child.pid}`);
    await dying.process.kill("SIGKILL");
    const [orphanJob] = await finished([orphan]);
    expect(orphanJob).toMatchObject({ status: "SUCCEEDED", attempts: 2, worker: `${pidScope()}:${surviving.process.child.pid}` });
    expect(await database.prisma.merge.count({ where: { jobId: orphan } })).toBe(1);
    expect((await gql(surviving.url, `{ models(where: { nameContains: "orphan" }) { totalCount } }`)).models.totalCount).toBe(1);
    // The dead run's partial output went with the take-over (same host, dead pid).
    expect(fs.readdirSync(path.join(db.dataDir, "artifacts", "tmp"))).toEqual([]);
  });
});
