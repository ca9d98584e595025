import { startTestServer, TestServer } from "./support/testServer";
import { seedBasics } from "./support/fixtures";
import { upload } from "./support/http";
import { watchJob } from "./support/subscribe";
import { writeSafetensors } from "../src/core/formats/safetensors/testing/writeSafetensors";

describe("jobs: live updates, health and metrics (embedded)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer("sqlite", { LAYERMERGE_AUTH: "writes" });
  });
  afterAll(() => server.stop());

  test("jobUpdated streams a merge's progress over graphql-ws until it succeeds", async () => {
    const admin = (await server.app.services.tokens.create({ name: "t", role: "ADMIN" })).token;
    const { task } = await seedBasics(server, "", admin);
    const n = 4 << 20;
    const ids: string[] = [];
    for (const seed of [1, 2]) {
      const data = new Float32Array(n).map((_, i) => ((i * 7 + seed) % 100) / 100);
      const bytes = writeSafetensors([{ name: "w.weight", dtype: "F32", shape: [n], data: new Uint8Array(data.buffer) }, { name: "w.bias", dtype: "F32", shape: [4] }]);
      const { body } = await upload(server.origin, bytes, admin);
      const { registerModel } = await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: `s${seed}`, taskId: task.id, artifactSha256: body.sha256 } }, { token: admin });
      ids.push(registerModel.id);
    }
    const { startMerge } = await server.ok(`mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, { i: { anchorId: ids[0], modelIds: [ids[1]] } }, { token: admin });
    const { done } = watchJob(server.url, startMerge.id);
    const updates = await done;
    expect(updates[updates.length - 1]).toMatchObject({ id: startMerge.id, status: "SUCCEEDED", progress: 1 });
    expect(updates.every((u) => u.id === startMerge.id)).toBe(true);
    // Progress never goes backwards.
    for (let i = 1; i < updates.length; i++) expect(updates[i].progress).toBeGreaterThanOrEqual(updates[i - 1].progress);

    // A finished job's stream gives its final state and ends.
    const again = await watchJob(server.url, startMerge.id).done;
    expect(again).toEqual([expect.objectContaining({ status: "SUCCEEDED", progress: 1 })]);
  });

  test("/healthz reports every dependency; /metrics is Prometheus text with jobs and GraphQL counts", async () => {
    const health = await fetch(`${server.origin}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok", database: "ok", artifacts: "ok" });
    await server.gql(`{ tasks { id } }`);
    const metrics = await (await fetch(`${server.origin}/metrics`)).text();
    expect(metrics).toMatch(/^layermerge_jobs\{status="SUCCEEDED",kind="MERGE"\} 1$/m);
    expect(metrics).toMatch(/^layermerge_job_duration_seconds_count\{kind="MERGE",status="SUCCEEDED"\} 1$/m);
    expect(metrics).toMatch(/^layermerge_graphql_requests_total\{operation="query",outcome="ok"\} \d+$/m);
    expect(metrics).toMatch(/^layermerge_graphql_request_duration_seconds_bucket\{le="0\.1",operation="query"\} \d+$/m);
  });
});
