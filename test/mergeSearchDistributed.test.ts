import * as fs from "node:fs";
import * as path from "node:path";
import { createTestDatabase, TestDatabase } from "./support/testDatabase";
import { ensureBuilt, startLayermerge, RunningProcess } from "./support/processes";
import { ownRedis, OwnRedis } from "./support/redisServer";
import { gql } from "./support/remote";
import { blocks, twoLayerNet } from "./support/searchFixtures";
import { writeOnnxModel } from "../src/core/formats/onnx/testing/onnxModelWriter";
import { openDatabase } from "../src/persistence/database";

/*
 * A merge search in the distributed shape (PostgreSQL, a Redis of the test's own, an API and two
 * worker processes): the worker running the search is SIGKILLed once a few candidates are scored;
 * the other takes the job over, skips what is scored and finishes. Every planned candidate has
 * exactly one row. Runs when TEST_DATABASE_URL is set.
 */
const enabled = Boolean(process.env.TEST_DATABASE_URL);
const describeDistributed = enabled ? describe : describe.skip;
const CLASSES = [{ id: 0, name: "red", isThing: false }, { id: 1, name: "green", isThing: false }, { id: 2, name: "blue", isThing: true }];
const CONTRACT = { inputName: "image", width: 32, height: 32, resize: { mode: "FIXED" }, channelOrder: "RGB", mean: [120, 120, 120], std: [60, 60, 60], outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" }] };

describeDistributed("merge search across worker processes", () => {
  jest.setTimeout(300_000);
  let db: TestDatabase;
  let redis: OwnRedis;
  const processes: RunningProcess[] = [];

  beforeAll(async () => {
    ensureBuilt();
    db = await createTestDatabase("postgres");
    redis = ownRedis(6421);
    await redis.start();
  });
  afterAll(async () => {
    for (const p of processes) await p.kill("SIGKILL");
    await redis?.stop();
    if (db) await db.cleanup();
  });

  test("a SIGKILLed worker's search is taken over and every candidate is scored exactly once", async () => {
    const env = { DATABASE_URL: db.url, REDIS_URL: redis.url, LAYERMERGE_QUEUE_PREFIX: "lmsearch", LAYERMERGE_DATA_DIR: db.dataDir, LAYERMERGE_JOB_LOCK_MS: "2000", LAYERMERGE_WORKERS: "1", HOST: "127.0.0.1" };
    const api = startLayermerge(["serve"], { ...env, PORT: "0" });
    processes.push(api);
    const url = (await api.waitFor(/serving GraphQL at (http:\/\/\S+\/graphql)/))[1];
    const origin = url.replace(/\/graphql$/, "");
    const workers = [startLayermerge(["worker"], env), startLayermerge(["worker"], env)];
    processes.push(...workers);
    const names = await Promise.all(workers.map(async (w) => (await w.waitFor(/worker (\S+) running jobs/))[1]));

    const taskId = (await gql(url, `mutation { createTask(input: { key: "sem", name: "Semantic", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    const dir = path.join(db.dataDir, "datasets", "target"); // under the default dataset root
    await blocks(dir, 10, 16); // 30 images of 64×64
    const datasetId = (await gql(url, `mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, { i: { name: "target", taskId, format: "IMAGES", location: dir, classes: CLASSES } })).createDataset.id;
    const pool: string[] = [];
    for (const seed of [11, 22, 33]) {
      const put = (await (await fetch(`${origin}/artifacts`, { method: "PUT", body: writeOnnxModel(twoLayerNet(seed)).bytes })).json()) as { sha256: string };
      pool.push((await gql(url, `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: `m${seed}`, taskId, artifactSha256: put.sha256, inference: CONTRACT } })).registerModel.id);
    }
    const job = (await gql(url, `mutation($i: MergeSearchInput!) { startMergeSearch(input: $i) { id mergeSearch { id planned } } }`, { i: { modelIds: pool, objective: { kind: "CONSISTENCY", datasetId } } })).startMergeSearch;
    expect(job.mergeSearch.planned).toBe(16);

    const prisma = (await openDatabase(db.url, { migrate: false })).prisma;
    try {
      let victim = -1;
      for (let tries = 0; tries < 6000 && victim < 0; tries++) {
        const row = await prisma.job.findUniqueOrThrow({ where: { id: job.id } });
        const scored = await prisma.mergeSearchCandidate.count({ where: { searchId: job.mergeSearch.id } });
        if (row.status === "RUNNING" && scored >= 2 && row.worker) victim = names.indexOf(row.worker);
        else if (row.status !== "QUEUED" && row.status !== "RUNNING") break;
        else await new Promise((r) => setTimeout(r, 10));
      }
      expect(victim).toBeGreaterThanOrEqual(0);
      const scoredBeforeKill = await prisma.mergeSearchCandidate.count({ where: { searchId: job.mergeSearch.id } });
      expect(scoredBeforeKill).toBeLessThan(16);
      await workers[victim].kill("SIGKILL");

      let final = await prisma.job.findUniqueOrThrow({ where: { id: job.id } });
      for (let tries = 0; tries < 2400 && (final.status === "QUEUED" || final.status === "RUNNING"); tries++) {
        await new Promise((r) => setTimeout(r, 100));
        final = await prisma.job.findUniqueOrThrow({ where: { id: job.id } });
      }
      expect([final.status, final.error]).toEqual(["SUCCEEDED", null]);
      expect(final.attempts).toBeGreaterThanOrEqual(2);
      expect(final.worker).toBe(names[1 - victim]);
      const rows = await prisma.mergeSearchCandidate.findMany({ where: { searchId: job.mergeSearch.id } });
      expect(rows).toHaveLength(16);
      expect(new Set(rows.map((r) => r.key)).size).toBe(16);
      expect(new Set(rows.map((r) => r.position))).toEqual(new Set(Array.from({ length: 16 }, (_, i) => i)));
      // the scratch space of the killed run is not the search's output: no artifact, no model was written
      expect(await prisma.model.count()).toBe(3);
      expect(await prisma.artifact.count()).toBe(3);
      const search = await prisma.mergeSearch.findUniqueOrThrow({ where: { id: job.mergeSearch.id } });
      expect((search.result as { bestKey: string }).bestKey).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      await prisma.$disconnect();
    }
  });
});
