import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startTestServer, TestServer } from "./support/testServer";
import { seedBasics } from "./support/fixtures";
import { main } from "../src/cli/main";
import { buildSegNet } from "../src/core/formats/onnx/testing/buildSegNet";

async function cli(args: string[], env: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  const log = jest.spyOn(console, "log").mockImplementation((...a) => void out.push(a.join(" ")));
  const error = jest.spyOn(console, "error").mockImplementation((...a) => void err.push(a.join(" ")));
  const write = jest.spyOn(process.stderr, "write").mockImplementation((chunk: any) => (err.push(String(chunk)), true));
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    return { code: await main(args), out: out.join("\n"), err: err.join("") };
  } finally {
    process.env = saved;
    log.mockRestore();
    error.mockRestore();
    write.mockRestore();
  }
}

describe("layermerge register", () => {
  let server: TestServer;
  let dir: string;
  beforeAll(async () => {
    server = await startTestServer("sqlite", { LAYERMERGE_AUTH: "writes" });
    const admin = await server.app.services.tokens.create({ name: "seed", role: "ADMIN" });
    await seedBasics(server, "", admin.token);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-cli-"));
  });
  afterAll(async () => {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("uploads with progress, registers by task key and backbone name, and skips uploads the registry already has", async () => {
    const { token } = await server.app.services.tokens.create({ name: "cli", role: "WRITER" });
    const file = path.join(dir, "model.onnx");
    fs.writeFileSync(file, buildSegNet().bytes);
    const env = { LAYERMERGE_URL: server.origin, LAYERMERGE_TOKEN: token };
    const first = await cli(["register", file, "--name", "cli-model", "--task", "semantic", "--backbone", "MiT-B5", "--target", "Cityscapes", "--tags", "a,b"], env);
    expect(first.code).toBe(0);
    expect(first.err).toMatch(/uploading .*100%/);
    expect(first.err).toMatch(/registered cli-model@1: 7 tensors, 852 parameters, 4 layers \(backbone 5, decode_head 2\)/);
    const id = first.out.trim();
    const { model } = await server.ok(`query($id: ID!) { model(id: $id) { name tags backbone { name } targetDataset { name } artifact { sizeBytes } } }`, { id });
    expect(model).toEqual({ name: "cli-model", tags: ["a", "b"], backbone: { name: "MiT-B5" }, targetDataset: { name: "Cityscapes" }, artifact: { sizeBytes: fs.statSync(file).size } });

    const second = await cli(["register", file, "--name", "cli-model", "--version", "2", "--task", "semantic"], env);
    expect(second.code).toBe(0);
    expect(second.err).toMatch(/already holds .*skipping the upload/);

    const noToken = await cli(["register", file, "--name", "x", "--task", "semantic"], { LAYERMERGE_URL: server.origin, LAYERMERGE_TOKEN: "" });
    expect(noToken.code).toBe(1);
    expect(noToken.err).toMatch(/token/i);
    const badTask = await cli(["register", file, "--name", "x", "--task", "nope"], env);
    expect(badTask.err).toMatch(/unknown task "nope"/);

    // a checkpoint registered with its graph model
    const checkpoint = path.join(__dirname, "..", "src", "core", "graphWeights", "fixtures", "segnet_a.safetensors");
    const third = await cli(["register", checkpoint, "--name", "cli-checkpoint", "--task", "semantic", "--graph-model", id], env);
    expect(third.code).toBe(0);
    const { model: registered } = await server.ok(`query($id: ID!) { model(id: $id) { graphModel { id name } } }`, { id: third.out.trim() });
    expect(registered.graphModel).toEqual({ id, name: "cli-model" });
  });

  test("registers a PyTorch checkpoint with --checkpoint-key and --strip-prefix", async () => {
    const { token } = await server.app.services.tokens.create({ name: "cli-pth", role: "WRITER" });
    const env = { LAYERMERGE_URL: server.origin, LAYERMERGE_TOKEN: token };
    const file = path.join(__dirname, "..", "src", "core", "formats", "pytorch", "fixtures", "nested_unknown.pth");
    const refused = await cli(["register", file, "--name", "cli-pth", "--task", "semantic"], env);
    expect(refused.code).not.toBe(0);
    expect(refused.err).toMatch(/name the one holding them with checkpointKey/);
    const run = await cli(["register", file, "--name", "cli-pth", "--task", "semantic", "--checkpoint-key", "weights_holder", "--strip-prefix", "bn1."], env);
    expect(run.code).toBe(0);
    const { model } = await server.ok(`query($id: ID!) { model(id: $id) { artifact { format } structure { tensors(first: 20) { edges { node { name } } } } } }`, { id: run.out.trim() });
    expect(model.artifact.format).toBe("pytorch");
    expect(model.structure.tensors.edges.map((e: any) => e.node.name)).toEqual(["conv1.weight", "conv1.bias", "weight", "bias", "running_mean", "running_var", "num_batches_tracked", "conv2.weight", "conv2.bias"]);
  });
});

describe("layermerge merge", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer("sqlite");
  });
  afterAll(() => server.stop());

  test("starts a merge, follows it to the end and prints the merged model's id", async () => {
    const { task } = await seedBasics(server);
    const ids: string[] = [];
    for (const seed of [1, 2, 3]) {
      const bytes = buildSegNet({ seed }).bytes;
      const put = await fetch(`${server.origin}/artifacts`, { method: "PUT", body: bytes });
      const { sha256 } = (await put.json()) as { sha256: string };
      const { registerModel } = await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: `m${seed}`, taskId: task.id, artifactSha256: sha256 } });
      ids.push(registerModel.id);
    }
    const env = { LAYERMERGE_URL: server.origin };
    const result = await cli(["merge", "--anchor", ids[0], "--with", ids[1], ids[2], "--schedule", "step", "--cutoff", "0.5", "--name", "cli-merge"], env);
    expect(result.code).toBe(0);
    expect(result.err).toMatch(/merging .*100%/);
    const { model } = await server.ok(`query($id: ID!) { model(id: $id) { name merge { schedule { kind cutoff } inputs { model { name } } } } }`, { id: result.out.trim() });
    expect(model).toEqual({ name: "cli-merge", merge: { schedule: { kind: "STEP", cutoff: 0.5 }, inputs: [{ model: { name: "m1" } }, { model: { name: "m2" } }, { model: { name: "m3" } }] } });
    const bad = await cli(["merge", "--anchor", ids[0], "--with", ids[0]], env);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/BAD_USER_INPUT: the anchor must not also be listed/);
  });

  test("--method takes every registered method, SLERP and MODEL_STOCK (with --base) included", async () => {
    const { task } = await seedBasics(server, "-methods");
    const ids: string[] = [];
    for (const seed of [11, 12, 13, 14]) {
      const put = await fetch(`${server.origin}/artifacts`, { method: "PUT", body: buildSegNet({ seed }).bytes });
      const { sha256 } = (await put.json()) as { sha256: string };
      const { registerModel } = await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: `s${seed}`, taskId: task.id, artifactSha256: sha256 } });
      ids.push(registerModel.id);
    }
    const env = { LAYERMERGE_URL: server.origin };
    const slerp = await cli(["merge", "--anchor", ids[0], "--with", ids[1], "--method", "slerp", "--schedule", "uniform"], env);
    const stock = await cli(["merge", "--anchor", ids[0], "--with", ids[1], ids[2], "--method", "model_stock", "--base", ids[3]], env);
    expect([slerp.code, stock.code]).toEqual([0, 0]);
    const method = async (id: string) => (await server.ok(`query($id: ID!) { model(id: $id) { merge { method schedule { kind } } } }`, { id })).model.merge;
    expect(await method(slerp.out.trim())).toEqual({ method: "SLERP", schedule: { kind: "UNIFORM" } });
    expect(await method(stock.out.trim())).toEqual({ method: "MODEL_STOCK", schedule: { kind: "UNIFORM" } });
  });
});
