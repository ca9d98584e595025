import * as fs from "node:fs";
import * as path from "node:path";
import { createTestDatabase, databaseKinds, TestDatabase } from "./support/testDatabase";
import { ensureBuilt, startLayermerge, RunningProcess } from "./support/processes";
import { ownRedis, OwnRedis } from "./support/redisServer";
import { gql } from "./support/remote";
import { watchJob } from "./support/subscribe";
import { blocks, twoLayerNet } from "./support/searchFixtures";
import { writeOnnxModel } from "../src/core/formats/onnx/testing/onnxModelWriter";
import { openDatabase } from "../src/persistence/database";

/*
 * A merge search's candidates fan out over the worker processes (real processes on loopback, a
 * redis-server of the test's own). The reference is the same search run by one embedded process
 * on the same database (same models, so the same candidate keys): the distributed run must give
 * every candidate the same objective, and an EVOLUTION run the same generations and pick. Then
 * both workers score candidates of one search; a SIGKILLed worker's claimed candidates are
 * claimed again and written once; a cancel leaves no rows and no scratch folder.
 */
const CLASSES = [{ id: 0, name: "red", isThing: false }, { id: 1, name: "green", isThing: false }, { id: 2, name: "blue", isThing: true }];
const CONTRACT = { inputName: "image", width: 32, height: 32, resize: { mode: "FIXED" }, channelOrder: "RGB", mean: [120, 120, 120], std: [60, 60, 60], outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" }] };
const START = `mutation($i: MergeSearchInput!) { startMergeSearch(input: $i) { id mergeSearch { id planned } } }`;

describe.each(databaseKinds)("merge search fan-out over workers (%s)", (kind) => {
  jest.setTimeout(600_000);
  let db: TestDatabase;
  let redis: OwnRedis;
  let database: Awaited<ReturnType<typeof openDatabase>>;
  let prisma: Awaited<ReturnType<typeof openDatabase>>["prisma"];
  let env: Record<string, string>;
  const processes: RunningProcess[] = [];
  let url = "";
  let pool: string[] = [];
  let datasetId = "";
  let workers: RunningProcess[] = [];
  let names: string[] = [];
  const grid = () => ({ modelIds: pool, objective: { kind: "CONSISTENCY", datasetId, seed: 5 } });
  const evolution = () => ({ modelIds: pool, strategy: "EVOLUTION", objective: { kind: "INFO_MAX", datasetId, seed: 3 }, budget: { maxCandidates: 36 } });
  const reference: Record<string, { objectives: Map<string, number | null>; positions: Map<string, number>; bestKey: string; pickConfidence: number }> = {};
  const scratchDir = () => path.join(db.dataDir, "artifacts", "tmp");
  const scratchFolders = () => (fs.existsSync(scratchDir()) ? fs.readdirSync(scratchDir()).filter((f) => f.startsWith("merge-")) : []);
  /** The folders left, with the workers' last output when there are any (a worker that died says why there). */
  const leftovers = () => {
    const folders = scratchFolders();
    return folders.length ? { folders, workers: workers.map((w) => w.output().slice(-1500)) } : { folders };
  };

  const finish = async (jobId: string) => {
    let job = await prisma.job.findUniqueOrThrow({ where: { id: jobId } });
    for (let tries = 0; tries < 3000 && (job.status === "QUEUED" || job.status === "RUNNING"); tries++) {
      await new Promise((r) => setTimeout(r, 100));
      job = await prisma.job.findUniqueOrThrow({ where: { id: jobId } });
    }
    return job;
  };
  const outcome = async (searchId: string) => {
    const rows = await prisma.mergeSearchCandidate.findMany({ where: { searchId }, orderBy: { position: "asc" } });
    const search = await prisma.mergeSearch.findUniqueOrThrow({ where: { id: searchId } });
    const result = search.result as { bestKey: string; pickConfidence: number };
    return { rows, objectives: new Map(rows.map((r) => [r.key, r.objective])), positions: new Map(rows.map((r) => [r.key, r.position])), bestKey: result.bestKey, pickConfidence: result.pickConfidence };
  };

  beforeAll(async () => {
    ensureBuilt();
    db = await createTestDatabase(kind);
    redis = ownRedis(kind === "sqlite" ? 6410 : 6411);
    await redis.start();
    // REDIS_URL is cleared: the reference must be embedded whatever the environment (CI sets it).
    // One candidate thread per process: the test is about processes sharing a search, and with
    // several threads each the owner alone can finish 16 candidates before a joining worker has
    // prepared (then there is nothing to see two workers do).
    env = { DATABASE_URL: db.url, LAYERMERGE_DATA_DIR: db.dataDir, LAYERMERGE_JOB_LOCK_MS: "2000", LAYERMERGE_WORKERS: "1", LAYERMERGE_SEARCH_THREADS: "1", HOST: "127.0.0.1", REDIS_URL: "" };

    // The reference: one embedded process (its one thread) runs the GRID and the EVOLUTION search.
    const embedded = startLayermerge(["serve"], { ...env, PORT: "0" });
    processes.push(embedded);
    url = (await embedded.waitFor(/serving GraphQL at (http:\/\/\S+\/graphql)/))[1];
    const origin = url.replace(/\/graphql$/, "");
    const taskId = (await gql(url, `mutation { createTask(input: { key: "sem", name: "Semantic", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    const dir = path.join(db.dataDir, "datasets", "target");
    // 36 images of 64×64: a candidate takes long enough that a joining worker (decoding the images
    // and loading the pool first) still finds a fair share of the 16 on a quiet machine.
    await blocks(dir, 12, 16);
    datasetId = (await gql(url, `mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, { i: { name: "target", taskId, format: "IMAGES", location: dir, classes: CLASSES } })).createDataset.id;
    for (const seed of [11, 22, 33]) {
      const put = (await (await fetch(`${origin}/artifacts`, { method: "PUT", body: writeOnnxModel(twoLayerNet(seed)).bytes })).json()) as { sha256: string };
      pool.push((await gql(url, `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: `m${seed}`, taskId, artifactSha256: put.sha256, inference: CONTRACT } })).registerModel.id);
    }
    database = await openDatabase(db.url, { migrate: false });
    prisma = database.prisma;
    for (const [name, input] of [["grid", grid()], ["evolution", evolution()]] as const) {
      const job = (await gql(url, START, { i: input })).startMergeSearch;
      expect((await finish(job.id)).status).toBe("SUCCEEDED");
      reference[name] = await outcome(job.mergeSearch.id);
    }
    await embedded.kill("SIGTERM");

    // The distributed shape: an API and two workers.
    env = { ...env, REDIS_URL: redis.url, LAYERMERGE_QUEUE_PREFIX: "lmfanout" };
    const api = startLayermerge(["serve"], { ...env, PORT: "0" });
    processes.push(api);
    url = (await api.waitFor(/serving GraphQL at (http:\/\/\S+\/graphql)/))[1];
    for (let i = 0; i < 2; i++) {
      const worker = startLayermerge(["worker"], env);
      processes.push(worker);
      workers.push(worker);
      names.push((await worker.waitFor(/worker (\S+) running jobs/, 120_000))[1]);
    }
  });
  afterAll(async () => {
    for (const p of processes) await p.kill("SIGKILL");
    await database?.close();
    await redis?.stop();
    if (db) await db.cleanup();
  });

  test("a GRID search: both workers score candidates, each exactly once, with the objectives of the embedded run", async () => {
    // On a loaded machine the owner can finish the 16 before the other worker has prepared: such
    // a search shows no fan-out, and another is started (at most four; each must be right).
    let job: any = null;
    let end: any = null;
    let got: Awaited<ReturnType<typeof outcome>> | null = null;
    let updates: any[] = [];
    for (let search = 0; search < 4 && !(got && new Set(got.rows.map((r) => r.worker)).size === 2); search++) {
      job = (await gql(url, START, { i: grid() })).startMergeSearch;
      expect(job.mergeSearch.planned).toBe(16);
      // Progress counts every worker's rows: the owner's progress (every update, over the
      // subscription; the row keeps one every half second) reaches more candidates than the
      // owner scored itself.
      const watch = watchJob(url, job.id);
      end = await finish(job.id);
      expect([end.status, end.error]).toEqual(["SUCCEEDED", null]);
      got = await outcome(job.mergeSearch.id);
      expect(got.objectives).toEqual(reference.grid.objectives);
      updates = await watch.done;
    }
    got = got!;
    expect(got.rows).toHaveLength(16);
    expect(new Set(got.rows.map((r) => r.position))).toEqual(new Set(Array.from({ length: 16 }, (_, i) => i)));
    expect(new Set(got.rows.map((r) => r.worker))).toEqual(new Set(names));
    const ownRows = got.rows.filter((r) => r.worker === end.worker).length;
    const reported = updates.map((u) => Number(/^(\d+)\/16 candidates/.exec(u.message ?? "")?.[1] ?? 0));
    expect(Math.max(...reported)).toBeGreaterThan(ownRows);
    expect(got.objectives).toEqual(reference.grid.objectives);
    expect(reference.grid.objectives.size).toBe(16);
    expect(got.bestKey).toBe(reference.grid.bestKey);
    expect(await prisma.mergeSearchWork.count({ where: { searchId: job.mergeSearch.id } })).toBe(0);
    expect(end.message).toMatch(/^16 candidates scored/);
    // The joined worker sees the job end and removes its folder.
    for (let tries = 0; tries < 100 && scratchFolders().length; tries++) await new Promise((r) => setTimeout(r, 100));
    expect(leftovers()).toEqual({ folders: [] });
  });

  test("EVOLUTION over two workers: the same generations, values and pick as one process", async () => {
    const job = (await gql(url, START, { i: evolution() })).startMergeSearch;
    const end = await finish(job.id);
    expect([end.status, end.error]).toEqual(["SUCCEEDED", null]);
    const got = await outcome(job.mergeSearch.id);
    // 16 grid candidates (positions 0–15), then two whole generations of λ = 4 + ⌊3 ln 10⌋ = 10
    // (2 groups × 5 knots): positions 16–25 and 26–35 (a point equal to an earlier candidate adds no row).
    const positions = [...reference.evolution.positions.values()];
    expect(positions.filter((p) => p < 16)).toHaveLength(16);
    expect(positions.some((p) => p >= 16 && p < 26)).toBe(true);
    expect(positions.some((p) => p >= 26 && p < 36)).toBe(true);
    expect(Math.max(...positions)).toBeLessThan(36);
    expect(got.objectives).toEqual(reference.evolution.objectives);
    expect(got.positions).toEqual(reference.evolution.positions);
    expect(got.bestKey).toBe(reference.evolution.bestKey);
    expect(got.pickConfidence).toBe(reference.evolution.pickConfidence);
  });

  test("cancelled while both workers score it: no search, no candidate or work rows, no scratch folder", async () => {
    // A short search can end before the joining worker is free to join (it may still be leaving
    // the previous test's search): then that search shows nothing here and another is started
    // (at most four), as in the SIGKILL test below.
    let job: any = null;
    let searchId = "";
    let seen = false;
    const both = async () => new Set((await prisma.mergeSearchWork.findMany({ where: { searchId, worker: { not: null } }, select: { worker: true } })).map((r) => r.worker)).size === 2;
    for (let search = 0; search < 4 && !seen; search++) {
      job = (await gql(url, START, { i: grid() })).startMergeSearch;
      searchId = job.mergeSearch.id;
      for (let tries = 0; tries < 6000 && !seen; tries++) {
        seen = await both();
        if (seen) break;
        const row = await prisma.job.findUniqueOrThrow({ where: { id: job.id } });
        if (row.status !== "RUNNING" && row.status !== "QUEUED") break;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    if (!seen) throw new Error(`both workers were not seen holding claims in four searches; the workers' output:\n${workers.map((w) => w.output().slice(-1500)).join("\n---\n")}`);
    await gql(url, `mutation($id: ID!) { cancelJob(id: $id) { id } }`, { id: job.id });
    expect((await finish(job.id)).status).toBe("CANCELLED");
    expect(await prisma.mergeSearch.count({ where: { id: searchId } })).toBe(0);
    expect(await prisma.mergeSearchCandidate.count({ where: { searchId } })).toBe(0);
    expect(await prisma.mergeSearchWork.count({ where: { searchId } })).toBe(0);
    // The joined worker stops on the cancel too and removes its folder.
    for (let tries = 0; tries < 100 && scratchFolders().length; tries++) await new Promise((r) => setTimeout(r, 100));
    expect(leftovers()).toEqual({ folders: [] });
    // a late row of the joined worker cannot bring the search back
    await new Promise((r) => setTimeout(r, 1000));
    expect(await prisma.mergeSearchCandidate.count({ where: { searchId } })).toBe(0);
  });

  test("a worker SIGKILLed while it holds candidates: they are claimed again once its lease expires, every candidate scored once, no scratch left", async () => {
    // The victim is the worker that joined (not the job's owner), caught holding a claim. On a
    // busy machine a short search can end before the joined worker is seen holding one: then
    // that search proves nothing here and another is started (at most four).
    let victim = -1;
    let job: any = null;
    let searchId = "";
    for (let search = 0; search < 4 && victim < 0; search++) {
      job = (await gql(url, START, { i: grid() })).startMergeSearch;
      searchId = job.mergeSearch.id;
      for (let tries = 0; tries < 6000 && victim < 0; tries++) {
        const row = await prisma.job.findUniqueOrThrow({ where: { id: job.id } });
        if (row.status !== "RUNNING" && row.status !== "QUEUED") break;
        const helper = row.worker ? 1 - names.indexOf(row.worker) : -1;
        const holds = helper >= 0 && row.worker && (await prisma.mergeSearchWork.count({ where: { searchId, worker: names[helper], leaseUntil: { gt: new Date() } } })) > 0;
        if (holds) victim = helper;
        else await new Promise((r) => setTimeout(r, 10));
      }
    }
    if (victim < 0) throw new Error(`the joined worker was not seen holding a claim in four searches; the workers' output:\n${workers.map((w) => w.output().slice(-1500)).join("\n---\n")}`);
    await workers[victim].kill("SIGKILL");
    const owner = names[1 - victim];
    const end = await finish(job.id);
    expect([end.status, end.error, end.worker, end.attempts]).toEqual(["SUCCEEDED", null, owner, 1]);
    const got = await outcome(searchId);
    expect(got.rows).toHaveLength(16);
    expect(new Set(got.rows.map((r) => r.key)).size).toBe(16);
    expect(got.objectives).toEqual(reference.grid.objectives);
    expect(await prisma.mergeSearchWork.count({ where: { searchId } })).toBe(0);
    // the killed worker's folder is swept by the owner at the end (same host, its process is gone)
    expect(leftovers()).toEqual({ folders: [] });
  });
});
