import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ensureBuilt, startLayermerge, RunningProcess } from "./support/processes";
import { gql, twoTensorModel, sleep } from "./support/remote";
import { watchJob } from "./support/subscribe";
import { upload } from "./support/http";
import { openDatabase, type Database } from "../src/persistence/database";
import { pidScope } from "../src/jobs/processIdentity";
import { JOB_ALLOCATOR_TUNABLES } from "../src/config/allocatorTuning";
import { blockImage, colourNet, writeSemanticSample } from "../src/runtime/testing/evalFixtures";
import { writeOnnxModel } from "../src/core/formats/onnx/testing/onnxModelWriter";

/*
 * The default embedded shape: `layermerge serve` runs its jobs in a job-runner child process, ahead
 * of it in scheduling priority. Real processes on loopback: the API serves merges and evaluations
 * end to end with the runner out of process (progress reaching a subscription over the API's
 * WebSocket), a runner killed with SIGKILL mid-merge is replaced and the job completes once with
 * no scratch left, and stopping (or killing) the API leaves no process behind.
 */

/** `/proc/<pid>/stat` fields after the command name: [0] state, [1] ppid, … [16] nice. */
function stat(pid: number): string[] | null {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  } catch {
    return null;
  }
}
const alive = (pid: number) => {
  const s = stat(pid);
  return s !== null && s[0] !== "Z";
};
const niceOf = (pid: number) => Number(stat(pid)![16]);

/** The live child processes of `parent`, from /proc (independent of what the server says). */
function childrenOf(parent: number): number[] {
  return fs.readdirSync("/proc").filter((e) => /^\d+$/.test(e)).map(Number).filter((pid) => {
    const s = stat(pid);
    return s !== null && s[0] !== "Z" && Number(s[1]) === parent;
  });
}

async function runnerOf(server: RunningProcess, not?: number): Promise<number> {
  for (let i = 0; i < 600; i++) {
    const runners = childrenOf(server.child.pid!).filter((pid) => pid !== not && fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("jobProcess"));
    if (runners.length === 1) return runners[0]!;
    expect(runners.length).toBeLessThan(2);
    await sleep(50);
  }
  throw new Error(`no job runner under ${server.child.pid}:\n${server.output()}`);
}

async function gone(pid: number, ms = 15_000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!alive(pid)) return true;
    await sleep(50);
  }
  return false;
}

async function putArtifact(url: string, bytes: Uint8Array): Promise<{ sha256: string }> {
  const { status, body } = await upload(url.replace(/\/graphql$/, ""), bytes);
  if (status !== 201 && status !== 200) throw new Error(`PUT /artifacts answered ${status}: ${JSON.stringify(body)}`);
  return body;
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

// The blocks dataset of evaluation.test.ts: an identity 1×1 Conv predicts each block's colour;
// IoUs by hand there: red 19/22, green 19/20, blue 22/24.
const MIOU = (19 / 22 + 19 / 20 + 22 / 24) / 3;
const CLASSES = [
  { id: 0, name: "red", isThing: false },
  { id: 1, name: "green", isThing: false },
  { id: 2, name: "blue", isThing: true },
];
const CONTRACT = { inputName: "image", width: 4, height: 4, resize: { mode: "FIXED" }, channelOrder: "RGB", mean: [10, 20, 30], std: [2, 2, 2], outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" }] };

describe("embedded shape: jobs in a job-runner child process (SQLite)", () => {
  jest.setTimeout(240_000);
  let dir: string;
  let env: Record<string, string>;
  let server: RunningProcess;
  let url: string;
  let database: Database;
  let taskId: string;
  const models: string[] = [];

  const finished = async (jobId: string) => {
    for (;;) {
      const { job } = await gql(url, `query($id: ID!) { job(id: $id) { status attempts error model { name } evaluation { score images } } }`, { id: jobId });
      if (!["QUEUED", "RUNNING"].includes(job.status)) return job;
      await sleep(50);
    }
  };

  beforeAll(async () => {
    ensureBuilt();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-jobproc-"));
    env = { LAYERMERGE_DATA_DIR: dir, DATABASE_URL: `file:${path.join(dir, "layermerge.db")}`, PORT: "0", HOST: "127.0.0.1", REDIS_URL: "", LAYERMERGE_DATASET_ROOTS: dir, LAYERMERGE_JOB_PROCESS: "", LAYERMERGE_JOB_PRIORITY: "", LOG_LEVEL: "info" };
    server = startLayermerge(["serve"], env);
    url = (await server.waitFor(/serving GraphQL at (http:\/\/\S+\/graphql)/, 120_000))[1]!;
    database = await openDatabase(env.DATABASE_URL!, { migrate: false });
    taskId = (await gql(url, `mutation { createTask(input: { key: "sem", name: "Semantic", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    for (let s = 0; s < 3; s++) {
      const put = await putArtifact(url, twoTensorModel(s, 16 << 20));
      models.push((await gql(url, `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: `m${s}`, taskId, artifactSha256: put.sha256 } })).registerModel.id);
    }
  });
  afterAll(async () => {
    await server?.kill("SIGKILL");
    await database?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("the runner is a child of the API, 5 nice steps ahead of it (the default LAYERMERGE_JOB_PRIORITY), with the job processes' allocator settings", async () => {
    const runner = await runnerOf(server);
    // It sets its priority first thing; once it says it started, it is set.
    await server.waitFor(/"msg":"job runner started"/, 60_000);
    // The tests run as root here, so raising the priority is permitted.
    expect(process.getuid?.()).toBe(0);
    expect(niceOf(runner)).toBe(Math.max(-20, niceOf(server.child.pid!) - 5));
    // …and started with the job processes' allocator settings (glibc reads them at start-up and
    // rewrites the variable in place as it parses it: /proc shows the setting up to the first ':').
    const environ = fs.readFileSync(`/proc/${runner}/environ`, "utf8").split("\0");
    const tunables = environ.filter((e) => e.startsWith("GLIBC_TUNABLES="));
    expect(tunables).toHaveLength(1);
    expect(`${JOB_ALLOCATOR_TUNABLES}:`.startsWith(`${tunables[0]!.slice("GLIBC_TUNABLES=".length)}:`)).toBe(true);
    expect(tunables[0]).toMatch(/^GLIBC_TUNABLES=glibc\.malloc\.mmap_threshold=33554432/);
  });

  test("a merge runs in the runner process, its progress reaching a subscription on the API", async () => {
    const runner = await runnerOf(server);
    const jobId = (await gql(url, `mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, { i: { anchorId: models[0], modelIds: [models[1], models[2]], output: { name: "out-of-process" } } })).startMerge.id;
    const watch = watchJob(url, jobId);
    // The API writes the same SQLite file meanwhile: both processes wait for the other's write
    // lock (busy timeout) instead of failing with SQLITE_BUSY.
    let writes = 0;
    let merging = true;
    const writer = (async () => {
      while (merging) {
        await gql(url, `mutation($n: String!) { createBackbone(input: { name: $n }) { id } }`, { n: `while-merging-${writes}` });
        writes += 1;
      }
    })();
    const updates = await watch.done.finally(() => (merging = false));
    await writer;
    expect(writes).toBeGreaterThan(0);
    expect(server.output()).not.toMatch(/SQLITE_BUSY|database is locked/);
    expect(updates.at(-1)).toMatchObject({ status: "SUCCEEDED", progress: 1 });
    // Published by the runner while it ran: the API process does not run jobs.
    expect(updates.some((u) => u.status === "RUNNING" && u.progress > 0 && u.progress < 1)).toBe(true);
    expect(await finished(jobId)).toMatchObject({ status: "SUCCEEDED", attempts: 1, model: { name: "out-of-process" } });
    const row = await database.prisma.job.findUniqueOrThrow({ where: { id: jobId } });
    expect(row.worker).toBe(`${pidScope()}:${runner}`);
  });

  test("an evaluation runs in the runner process and scores the hand-computed mIoU", async () => {
    const img = blockImage([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 2, 2], [2, 2, 0, 1]], 2);
    const label = [...img.classes];
    label[0] = 1;
    label[32] = 0;
    label[33] = 0;
    label[63] = 255;
    for (let i = 0; i < 2; i++) await writeSemanticSample(path.join(dir, "blocks"), `img${i}`, img.width, img.height, img.rgb, label);
    const datasetId = (await gql(url, `mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, { i: { name: "blocks", taskId, format: "SEMANTIC_PNG", location: path.join(dir, "blocks"), classes: CLASSES } })).createDataset.id;
    const put = await putArtifact(url, writeOnnxModel(colourNet()).bytes);
    const modelId = (await gql(url, `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: "identity", taskId, artifactSha256: put.sha256, inference: CONTRACT } })).registerModel.id;
    const runner = await runnerOf(server);
    const jobId = (await gql(url, `mutation($i: StartEvaluationInput!) { startEvaluation(input: $i) { id } }`, { i: { modelId, datasetId } })).startEvaluation.id;
    const updates = await watchJob(url, jobId).done;
    expect(updates.at(-1)).toMatchObject({ status: "SUCCEEDED" });
    const job = await finished(jobId);
    expect(job.status).toBe("SUCCEEDED");
    expect(job.evaluation.images).toBe(2);
    expect(job.evaluation.score).toBeCloseTo(MIOU, 12);
    expect((await database.prisma.job.findUniqueOrThrow({ where: { id: jobId } })).worker).toBe(`${pidScope()}:${runner}`);
  });

  test("a runner killed with SIGKILL mid-merge is replaced; the job completes once and no scratch is left", async () => {
    const tmp = path.join(dir, "artifacts", "tmp");
    const first = await runnerOf(server);
    const jobId = (await gql(url, `mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, { i: { anchorId: models[0], modelIds: [models[1], models[2]], schedule: { kind: "COSINE" }, output: { name: "survivor" } } })).startMerge.id;
    for (;;) {
      if (filesUnder(tmp).some((f) => /^merge-[^/]+\/merged\.safetensors$/.test(f) && fs.statSync(path.join(tmp, f)).size > 0)) break;
      expect((await database.prisma.job.findUniqueOrThrow({ where: { id: jobId } })).status).toMatch(/QUEUED|RUNNING/);
      await sleep(2);
    }
    process.kill(first, "SIGKILL");
    expect(await gone(first)).toBe(true);
    const second = await runnerOf(server, first);
    expect(second).not.toBe(first);
    expect(await finished(jobId)).toMatchObject({ status: "SUCCEEDED", attempts: 2, model: { name: "survivor" } });
    expect((await database.prisma.job.findUniqueOrThrow({ where: { id: jobId } })).worker).toBe(`${pidScope()}:${second}`);
    expect((await gql(url, `{ models(where: { nameContains: "survivor" }) { totalCount } }`)).models.totalCount).toBe(1);
    expect(await database.prisma.merge.count({ where: { jobId } })).toBe(1);
    expect(filesUnder(tmp)).toEqual([]);
    // The API itself never stopped serving.
    expect(alive(server.child.pid!)).toBe(true);
  });

  test("SIGTERM to the API stops its runner too; a SIGKILLed API's runner exits by itself", async () => {
    const runner = await runnerOf(server);
    await server.kill("SIGTERM");
    expect(await gone(runner)).toBe(true);

    server = startLayermerge(["serve"], env);
    url = (await server.waitFor(/serving GraphQL at (http:\/\/\S+\/graphql)/, 120_000))[1]!;
    const orphan = await runnerOf(server);
    await server.kill("SIGKILL");
    expect(await gone(orphan)).toBe(true);
  });
});
