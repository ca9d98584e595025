import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ensureBuilt, startLayermerge, RunningProcess } from "./support/processes";
import { gql, twoTensorModel, sleep } from "./support/remote";
import { upload } from "./support/http";

/*
 * A server killed with SIGKILL in the middle of a merge leaves its partial output in the scratch
 * folder (artifacts/tmp/merge-…/merged.*). After the restart the job runs again and succeeds
 * once, and nothing of the dead run is left.
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
      for (let s = 0; s < 3; s++) {
        const put = (await upload(url.replace(/\/graphql$/, ""), twoTensorModel(s, 16 << 20))).body as { sha256: string };
        ids.push((await gql(url, `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: `m${s}`, taskId, artifactSha256: put.sha256 } })).registerModel.id);
      }
      expect(filesUnder(tmp)).toEqual([]);
      const jobId = (await gql(url, `mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, { i: { anchorId: ids[0], modelIds: [ids[1], ids[2]], output: { name: "survivor" } } })).startMerge.id;
      // Kill the server once the merge has written part of its output.
      for (;;) {
        const partial = filesUnder(tmp).filter((f) => /^merge-[^/]+\/merged\.safetensors$/.test(f.file) && f.size > 0);
        if (partial.length) break;
        const { job } = await gql(url, `query($id: ID!) { job(id: $id) { status } }`, { id: jobId });
        expect(["QUEUED", "RUNNING"]).toContain(job.status);
        await sleep(2);
      }
      await server.kill("SIGKILL");
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
