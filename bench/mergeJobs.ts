/**
 * bench:merge's end-to-end comparison: the same merges as registry jobs (created → finished, as
 * the job row records them) against a numpy + onnx script on the same files (bench/mergeNumpy.py
 * under /usr/bin/python3, timed as a process: interpreter start, imports, load, merge, save).
 *
 * One `layermerge serve` process (embedded SQLite, no Redis, one worker thread) on a temporary
 * data folder; the bench's files are registered by path (`LAYERMERGE_IMPORT_ROOTS` is the bench's
 * folder), so their layouts are recorded at registration, as for any registered model.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { startLayermerge, ensureBuilt, type RunningProcess } from "../test/support/processes";
import { gql, jobSeconds } from "./apiRegistry";

export const PYTHON = "/usr/bin/python3";
const SCRIPT = path.join(__dirname, "mergeNumpy.py");
const execFileAsync = promisify(execFile);

export interface JobServer {
  register(file: string): Promise<string>;
  /** LAYERWISE, LINEAR schedule: seconds from the job's creation to its end, and of those before it started. */
  mergeSeconds(anchorId: string, contributorIds: string[]): Promise<{ total: number; queued: number }>;
  close(): Promise<void>;
}

export async function startJobServer(importRoot: string): Promise<JobServer> {
  ensureBuilt();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-bench-merge-jobs-"));
  const server: RunningProcess = startLayermerge(["serve"], {
    LAYERMERGE_DATA_DIR: dir,
    PORT: "0",
    REDIS_URL: "",
    DATABASE_URL: "",
    LOG_LEVEL: "warn",
    LAYERMERGE_WORKERS: "1",
    LAYERMERGE_IMPORT_ROOTS: importRoot,
  });
  try {
    const url = (await server.waitFor(/serving GraphQL at (http:\/\/\S+\/graphql)/))[1]!;
    const taskId: string = (await gql(url, `mutation { createTask(input: { key: "sem", name: "Semantic", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    let merges = 0;
    return {
      async register(file) {
        const i = { name: path.basename(file), taskId, path: file };
        try {
          return (await gql(url, `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i })).registerModel.id;
        } catch (error) {
          throw new Error(`registering ${file}: ${(error as Error).message}; the server said:\n${server.output()}`);
        }
      },
      async mergeSeconds(anchorId, modelIds) {
        const i = { anchorId, modelIds, method: "LAYERWISE", schedule: { kind: "LINEAR" }, output: { name: `bench-merge-${merges++}` } };
        const job: string = (await gql(url, `mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, { i })).startMerge.id;
        const total = await jobSeconds(url, job);
        const row = (await gql(url, `query($id: ID!) { job(id: $id) { createdAt startedAt model { id } } }`, { id: job })).job;
        // The output stays in the store otherwise: delete it so the disk holds one at a time.
        await gql(url, `mutation($id: ID!) { deleteModel(id: $id) { id } }`, { id: row.model.id });
        return { total, queued: (Date.parse(row.startedAt) - Date.parse(row.createdAt)) / 1000 };
      },
      async close() {
        server.child.kill("SIGTERM");
        await new Promise((r) => server.child.once("exit", r));
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    server.child.kill("SIGTERM");
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Wall seconds of the numpy + onnx script merging `inputs` (anchor first) into `outFile`. Not
 * execFileSync: the event loop must keep turning meanwhile, or the job server's close of an idle
 * keep-alive connection goes unseen and the next request is sent on the dead socket.
 */
export async function numpyMergeSeconds(inputs: string[], outFile: string): Promise<number> {
  const t0 = performance.now();
  await execFileAsync(PYTHON, [SCRIPT, outFile, ...inputs]);
  const seconds = (performance.now() - t0) / 1000;
  fs.rmSync(outFile, { force: true });
  return seconds;
}
