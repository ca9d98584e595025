import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ensureBuilt, startLayermerge, RunningProcess } from "./support/processes";
import { gql, twoTensorModel, sleep } from "./support/remote";
import { upload } from "./support/http";

/*
 * A server killed with SIGKILL in the middle of a merge — the server and its job-runner child
 * both, as when the machine goes down — leaves its partial output in the scratch folder
 * (artifacts/tmp/merge-…/merged.*). After the restart the job runs again and succeeds once, and
 * nothing of the dead run is left. (Killing the server alone is a different case: its runner sees
 * the channel close, stops gracefully and removes its own partial output; killing only the server
 * made this test depend on which came first, the runner's clean-up or the look at the folder.)
 */
/** Files under `dir`, recursively, with their sizes. */
function filesUnder(dir: string): Array<{ file: string; size: number }> {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => {
      const file = path.join(e.parentPath, e.name);
      return { file: path.relative(dir, file), size: fs.statSync(file).size };
    });
}

/** `pid`'s descendants (its job-runner child, say), from the parent pids in /proc. */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ")"
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parentOf.set(Number(entry), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, parent] of parentOf) if (parent === p) {
      out.push(child);
      walk(child);
    }
  };
  walk(pid);
  return out;
}

/**
 * SIGKILL for the server and every process under it, as a machine losing power would: the server
 * is stopped first, so that it cannot respawn its job runner, and the runner is killed before it
 * can see its parent go (on a parent's exit it stops gracefully and removes its scratch output).
 */
async function killEverything(server: RunningProcess): Promise<void> {
  const root = server.child.pid!;
  process.kill(root, "SIGSTOP");
  for (const pid of descendants(root)) process.kill(pid, "SIGKILL");
  await server.kill("SIGKILL");
}

describe("embedded shape: SIGKILL in the middle of a merge", () => {
  jest.setTimeout(180_000);
  test("after the restart the job succeeds once and the scratch folder holds nothing", async () => {
    ensureBuilt();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-scratch-"));
    const tmp = path.join(dataDir, "artifacts", "tmp");
    // Embedded: no Redis and the default SQLite file, whatever the test process was given.
    const env = { LAYERMERGE_DATA_DIR: dataDir, PORT: "0", REDIS_URL: "", DATABASE_URL: "" };
    let server: RunningProcess = startLayermerge(["serve"], env);
    try {
      let url = (await server.waitFor(/serving GraphQL at (http:\/\/\S+\/graphql)/))[1];
      const taskId = (await gql(url, `mutation { createTask(input: { key: "t", name: "t", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
      const ids: string[] = [];
      let inputBytes = 0;
      for (let s = 0; s < 3; s++) {
        const model = twoTensorModel(s, 16 << 20);
        inputBytes = model.byteLength;
        const put = (await upload(url.replace(/\/graphql$/, ""), model)).body as { sha256: string };
        ids.push((await gql(url, `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: `m${s}`, taskId, artifactSha256: put.sha256 } })).registerModel.id);
      }
      expect(filesUnder(tmp)).toEqual([]);
      const jobId = (await gql(url, `mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, { i: { anchorId: ids[0], modelIds: [ids[1], ids[2]], output: { name: "survivor" } } })).startMerge.id;
      // Kill the server once the merge has written part of its output: some bytes and fewer than an
      // input's (the output is an input's tensors plus the merge's metadata), so the merge cannot
      // have finished and moved it out of the scratch folder before the kill lands.
      for (;;) {
        const partial = filesUnder(tmp).filter((f) => /^merge-[^/]+\/merged\.safetensors$/.test(f.file) && f.size > 0 && f.size < inputBytes);
        if (partial.length) break;
        const { job } = await gql(url, `query($id: ID!) { job(id: $id) { status } }`, { id: jobId });
        expect(["QUEUED", "RUNNING"]).toContain(job.status);
        await sleep(2);
      }
      await killEverything(server);
      const left = filesUnder(tmp);
      expect(left).toEqual([{ file: expect.stringMatching(/^merge-[^/]+\/merged\.safetensors$/), size: expect.any(Number) }]);

      server = startLayermerge(["serve"], env);
      url = (await server.waitFor(/serving GraphQL at (http:\/\/\S+\/graphql)/))[1];
      let job;
      for (;;) {
        ({ job } = await gql(url, `query($id: ID!) { job(id: $id) { status attempts model { name } } }`, { id: jobId }));
        if (!["QUEUED", "RUNNING"].includes(job.status)) break;
        await sleep(100);
      }
      expect(job).toMatchObject({ status: "SUCCEEDED", attempts: 2, model: { name: "survivor" } });
      const { models } = await gql(url, `{ models(where: { nameContains: "survivor" }) { totalCount } }`);
      expect(models.totalCount).toBe(1);
      expect(filesUnder(tmp)).toEqual([]);
      expect(fs.readdirSync(tmp)).toEqual([]);
    } finally {
      await server.kill("SIGKILL");
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
