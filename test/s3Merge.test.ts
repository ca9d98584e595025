import * as fs from "node:fs";
import * as path from "node:path";
import { startTestServer, TestServer } from "./support/testServer";
import { waitForJob } from "./support/jobs";
import { startS3rver, S3TestServer, s3StoreEnv } from "../src/storage/testing/s3TestServer";
import { buildSegNet, type SegNet } from "../src/core/formats/onnx/testing/buildSegNet";
import { bufferSource } from "../src/core/formats/byteSource";
import { parseOnnx } from "../src/core/formats/onnx/parseOnnx";
import { readTensorBytes } from "../src/core/formats/onnx/readTensorBytes";

/*
 * Artifacts in S3-compatible storage (an s3rver started here): uploads land in the bucket, and a
 * merge downloads only its anchor (whose bytes become the output's); contributors are read tensor
 * by tensor with byte-range requests, using the layout recorded at registration.
 */
describe("merges with artifacts in object storage", () => {
  let s3: S3TestServer;
  let server: TestServer;
  const saved = { ...process.env };

  beforeAll(async () => {
    s3 = await startS3rver();
    await s3.createBucket("lm-artifacts");
    // Merge threads read their store settings from the environment, as deployed processes do.
    const storeEnv = s3StoreEnv(s3, "lm-artifacts", "registry");
    Object.assign(process.env, storeEnv);
    // Embedded shape whatever the test run was given (CI sets REDIS_URL for the distributed tests).
    server = await startTestServer("sqlite", { ...storeEnv, REDIS_URL: "" });
  });
  afterAll(async () => {
    await server?.stop();
    await s3?.close();
    process.env = saved;
  });

  test("contributors are read by byte range (never downloaded); merged values are right", async () => {
    const taskId = (await server.ok(`mutation { createTask(input: { key: "sem", name: "S", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    const nets: SegNet[] = [];
    const ids: string[] = [];
    const shas: string[] = [];
    for (const seed of [1, 2, 3]) {
      const net = buildSegNet({ seed, ...(seed === 3 ? { constants: "constant" as const, encoding: "typed" as const } : {}) });
      nets.push(net);
      const put = (await (await fetch(`${server.origin}/artifacts`, { method: "PUT", body: net.bytes })).json()) as { sha256: string };
      shas.push(put.sha256);
      const { registerModel } = await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: `m${seed}`, taskId, artifactSha256: put.sha256 } });
      ids.push(registerModel.id);
    }
    expect((await s3.listKeys("lm-artifacts")).filter((k) => k.includes("/sha256/"))).toHaveLength(3);
    const cacheDir = path.join(server.db.dataDir, "cache", "artifacts");
    const cached = () => (fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir) : []);
    const before = cached();

    const { startMerge } = await server.ok(`mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, { i: { anchorId: ids[0], modelIds: [ids[1], ids[2]], schedule: { kind: "UNIFORM" } } });
    const job = await waitForJob(server, startMerge.id);
    expect({ status: job.status, error: job.error }).toEqual({ status: "SUCCEEDED", error: null });

    // Only the anchor was downloaded; the contributors never were.
    const downloaded = cached().filter((f) => !before.includes(f));
    expect(downloaded.filter((f) => f.startsWith(shas[1]) || f.startsWith(shas[2]))).toEqual([]);
    expect(cached().some((f) => f.startsWith(shas[0]))).toBe(true);

    // UNIFORM over 3 models: θ = (θ1 + θ2 + θ3) / 3 for every tensor (the third stored as typed float_data).
    const { model } = await server.ok(`query($id: ID!) { model(id: $id) { artifact { sha256 } } }`, { id: job.model.id });
    const bytes = new Uint8Array(await (await fetch(`${server.origin}/artifacts/${model.artifact.sha256}`)).arrayBuffer());
    const source = bufferSource(bytes);
    const values = nets.map((n) => new Map(n.description.tensors.map((t) => [t.name, t.values])));
    for (const t of parseOnnx(source).tensors) {
      const raw = readTensorBytes(source, t);
      const got = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
      got.forEach((v, i) => {
        const expected = (values[0].get(t.name)![i] + values[1].get(t.name)![i] + values[2].get(t.name)![i]) / 3;
        expect(Math.abs(v - expected)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(expected)));
      });
    }
  });
});
