import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { seedBasics } from "./support/fixtures";
import { upload } from "./support/http";
import { waitForJob, JOB_FIELDS } from "./support/jobs";
import { bufferSource } from "../src/core/formats/byteSource";
import { parseSafetensors } from "../src/core/formats/safetensors/parseSafetensors";
import { parseOnnx } from "../src/core/formats/onnx/parseOnnx";
import { readTensorBytes } from "../src/core/formats/onnx/readTensorBytes";

/**
 * PyTorch checkpoints through GraphQL, against what torch itself wrote (the fixtures and
 * expected.json of src/core/formats/pytorch/fixtures/make_fixtures.py): zip, legacy and
 * DDP-prefixed files register with the unfused ONNX export's mergeable tensors, are each other's
 * candidates with fraction 1, merge into safetensors equal to a float64 reference, and bad files
 * are refused naming the problem with nothing stored.
 */
const dir = path.join(__dirname, "..", "src", "core", "formats", "pytorch", "fixtures");
const fixture = (name: string) => new Uint8Array(fs.readFileSync(path.join(dir, name)));
interface Expected { name: string; shape: number[]; dtype: string; values: number[] }
const expected = JSON.parse(fs.readFileSync(path.join(dir, "expected.json"), "utf8")) as Record<string, unknown>;

const REGISTER = `mutation($i: RegisterModelInput!) { registerModel(input: $i) {
  id artifact { sha256 format checkpointMeta } structure { format tensorCount layerCount layerOrderSource tensors(first: 100) { edges { node { name shape dtype mergeable layerIndex } } } } } }`;
const COMPARE = `query($a: ID!, $b: ID!) { compareStructures(aId: $a, bId: $b) {
  sharedTensorCount fractionOfA fractionOfB onlyInA { total items { name } } onlyInB { total items { name } } } }`;
const CANDIDATES = `query($id: ID!) { mergeCandidates(anchorId: $id, first: 50) { edges { node { sharedFraction sharedTensorCount model { id } } } } }`;
const START = `mutation($i: StartMergeInput!) { startMerge(input: $i) { ${JOB_FIELDS} } }`;

describe.each(databaseKinds)("PyTorch checkpoints through GraphQL (%s)", (kind) => {
  let server: TestServer;
  let taskId: string;
  let importRoot: string;
  const ids: Record<string, string> = {};
  const maxUpload = 1 << 20;

  beforeAll(async () => {
    importRoot = fs.mkdtempSync(path.join(os.tmpdir(), "lm-pth-import-"));
    server = await startTestServer(kind, { LAYERMERGE_MAX_UPLOAD_BYTES: String(maxUpload), LAYERMERGE_IMPORT_ROOTS: importRoot });
    taskId = (await seedBasics(server)).task.id;
  });
  afterAll(async () => {
    await server.stop();
    fs.rmSync(importRoot, { recursive: true, force: true });
  });

  const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
  const register = async (name: string, bytes: Uint8Array, extra: Record<string, unknown> = {}) => {
    const up = await upload(server.origin, bytes);
    expect(up.status).toBe(201);
    return server.gql(REGISTER, { i: { taskId, name, artifactSha256: up.body.sha256, ...extra } });
  };
  const registerOk = async (name: string, file: string, extra: Record<string, unknown> = {}) => {
    const result = await register(name, fixture(file), extra);
    expect(result.errors).toBeUndefined();
    ids[name] = result.data.registerModel.id;
    return result.data.registerModel;
  };
  const download = async (sha256: string) => new Uint8Array(await (await fetch(`${server.origin}/artifacts/${sha256}`)).arrayBuffer());
  const stored = async (sha256: string) => ({
    row: (await server.app.services.database.prisma.artifact.findUnique({ where: { sha256 } })) !== null,
    blob: (await fetch(`${server.origin}/artifacts/${sha256}`, { method: "HEAD" })).status === 200,
  });

  test("zip, legacy and DDP checkpoints register with torch's tensors in state-dict order, meta kept", async () => {
    const want = (expected["net_a.pth"] as Expected[]).map((t) => ({ name: t.name, shape: t.shape, dtype: t.dtype, mergeable: t.dtype !== "I64" }));
    for (const [name, file] of [["zip", "net_a.pth"], ["legacy", "net_a_legacy.pth"], ["ddp", "net_a_ddp.pth"], ["mmseg", "mmseg_like.pth"]]) {
      const model = await registerOk(name, file);
      expect({ name, format: model.artifact.format }).toEqual({ name, format: "pytorch" });
      expect(model.structure).toMatchObject({ format: "pytorch", tensorCount: 9, layerCount: 3, layerOrderSource: "STATE_DICT" });
      expect(model.structure.tensors.edges.map(({ node: { name: n, shape, dtype, mergeable } }: any) => ({ name: n, shape, dtype, mergeable }))).toEqual(want);
    }
    const { model } = await server.ok(`query($id: ID!) { model(id: $id) { artifact { checkpointMeta } } }`, { id: ids.mmseg });
    expect(model.artifact.checkpointMeta).toEqual(expected["mmseg_like.pth.meta"]);
  });

  test("a checkpoint and the unfused ONNX export of its weights share every mergeable tensor, fraction 1 both ways", async () => {
    await registerOk("onnx", "net_a.onnx");
    for (const pth of ["zip", "legacy", "ddp", "mmseg"]) {
      const { compareStructures: c } = await server.ok(COMPARE, { a: ids[pth], b: ids.onnx });
      expect({ pth, ...c }).toEqual({
        pth, sharedTensorCount: 8, fractionOfA: 1, fractionOfB: 1,
        onlyInA: { total: 1, items: [{ name: "bn1.num_batches_tracked" }] }, onlyInB: { total: 0, items: [] },
      });
    }
    const fractionOf = async (anchor: string, other: string) => {
      const { mergeCandidates } = await server.ok(CANDIDATES, { id: ids[anchor] });
      return mergeCandidates.edges.find((e: any) => e.node.model.id === ids[other])?.node.sharedFraction;
    };
    expect(await fractionOf("zip", "onnx")).toBe(1);
    expect(await fractionOf("onnx", "zip")).toBe(1);
  });

  test("a checkpoint × checkpoint merge writes safetensors equal to a float64 reference, with the recipe and meta", async () => {
    await registerOk("b", "net_b.pth");
    const start = await server.ok(START, { i: { anchorId: ids.mmseg, modelIds: [ids.b], output: { name: "pth-merge" } } });
    const job = await waitForJob(server, start.startMerge.id);
    expect(job).toMatchObject({ status: "SUCCEEDED" });
    const { model } = await server.ok(`query($id: ID!) { model(id: $id) { artifact { sha256 format } } }`, { id: job.model.id });
    expect(model.artifact.format).toBe("safetensors");
    const bytes = await download(model.artifact.sha256);
    const source = bufferSource(bytes);
    const parsed = parseSafetensors(source);
    const meta = (parsed.metadata as { __metadata__: Record<string, string> }).__metadata__;
    expect(meta["layermerge.method"]).toBe("LAYERWISE");
    expect(JSON.parse(meta["layermerge.checkpoint_meta"])).toEqual(expected["mmseg_like.pth.meta"]);

    // LAYERWISE, LINEAR, N = 2, L = 3 modules (conv1, bn1, conv2): w_a = 1/2 + t/2 at t = 0, ½, 1.
    const anchorWeight: Record<string, number> = { conv1: 0.5, bn1: 0.75, conv2: 1 };
    const a = expected["mmseg_like.pth"] as Expected[];
    const b = new Map((expected["net_b.pth"] as Expected[]).map((t) => [t.name, t.values]));
    expect(parsed.tensors.map((t) => t.name)).toEqual(a.map((t) => t.name));
    for (const t of a) {
      const info = parsed.tensors.find((p) => p.name === t.name)!;
      const loc = info.location as { offset: number; length: number };
      const raw = Uint8Array.from(source.read(loc.offset, loc.length));
      if (t.dtype === "I64") {
        expect(Array.from(new BigInt64Array(raw.buffer), Number)).toEqual(t.values);
        continue;
      }
      const got = new Float32Array(raw.buffer);
      const w = anchorWeight[t.name.split(".")[0]];
      t.values.forEach((v, i) => {
        const reference = w * v + (1 - w) * b.get(t.name)![i];
        expect(Math.abs(got[i] - reference)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(reference)));
      });
    }
  });

  test("an ONNX anchor merges with a checkpoint contributor into ONNX equal to a float64 reference", async () => {
    const start = await server.ok(START, { i: { anchorId: ids.onnx, modelIds: [ids.b], output: { name: "onnx-pth-merge" } } });
    const job = await waitForJob(server, start.startMerge.id);
    expect(job).toMatchObject({ status: "SUCCEEDED" });
    expect(job.message).toMatch(/merged 8 tensors \(0 copied\)/);
    const { model } = await server.ok(`query($id: ID!) { model(id: $id) { artifact { sha256 format } } }`, { id: job.model.id });
    expect(model.artifact.format).toBe("onnx");
    const source = bufferSource(await download(model.artifact.sha256));
    const merged = new Map(parseOnnx(source).tensors.map((t) => {
      const raw = Uint8Array.from(readTensorBytes(source, t));
      return [t.name, new Float32Array(raw.buffer)];
    }));
    const anchorWeight: Record<string, number> = { conv1: 0.5, bn1: 0.75, conv2: 1 };
    const b = new Map((expected["net_b.pth"] as Expected[]).map((t) => [t.name, t.values]));
    const floats = (expected["net_a.pth"] as Expected[]).filter((t) => t.dtype === "F32");
    expect([...merged.keys()].sort()).toEqual(floats.map((t) => t.name).sort());
    for (const t of floats) {
      const w = anchorWeight[t.name.split(".")[0]];
      const got = merged.get(t.name)!;
      t.values.forEach((v, i) => {
        const reference = w * v + (1 - w) * b.get(t.name)![i];
        expect(Math.abs(got[i] - reference)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(reference)));
      });
    }
  });

  test("checkpointKey and stripPrefix are refused for a file that is not a checkpoint", async () => {
    const result = await register("onnx-with-key", fixture("net_a.onnx"), { checkpointKey: "state_dict" });
    expect(result.errors?.[0]).toMatchObject({ message: "checkpointKey and stripPrefix apply to PyTorch checkpoints only", extensions: { code: "BAD_USER_INPUT", field: "input.checkpointKey" } });
  });

  test("a checkpoint imported by path registers as an upload does", async () => {
    const file = path.join(importRoot, "latest.bin");
    fs.copyFileSync(path.join(dir, "net_a_legacy.pth"), file);
    const result = await server.gql(REGISTER, { i: { taskId, name: "by-path", path: file } });
    expect(result.errors).toBeUndefined();
    expect(result.data.registerModel).toMatchObject({ artifact: { format: "pytorch", sha256: sha(fixture("net_a_legacy.pth")) }, structure: { tensorCount: 9, layerOrderSource: "STATE_DICT" } });
  });

  test("checkpointKey names an unknown key's dict; without it the file is refused naming the keys", async () => {
    const refused = await register("nested", fixture("nested_unknown.pth"));
    expect(refused.errors?.[0]).toMatchObject({ extensions: { code: "BAD_USER_INPUT" } });
    expect(refused.errors?.[0]?.message).toMatch(/its keys: "weights_holder", "step" — name the one holding them with checkpointKey/);
    const model = await registerOk("nested", "nested_unknown.pth", { checkpointKey: "weights_holder" });
    expect(model.structure.tensorCount).toBe(9);
    const stripped = await registerOk("stripped", "net_a.pth", { stripPrefix: "conv1.", name: "stripped" });
    expect(stripped.structure.tensors.edges.map((e: any) => e.node.name).slice(0, 2)).toEqual(["weight", "bias"]);
  });

  const truncated = fixture("net_a.pth").subarray(0, 2000);
  /** net_a.pth with data.pkl's declared size in the central directory raised past the upload limit. */
  const bomb = (() => {
    const bytes = Buffer.from(fixture("net_a.pth"));
    const at = bytes.indexOf(Buffer.from("PK\u0001\u0002", "latin1"));
    bytes.writeUInt32LE(0x7fffffff, at + 24);
    bytes.writeUInt32LE(0x7fffffff, at + 20);
    return new Uint8Array(bytes);
  })();
  test.each([
    ["evil_system.pth", fixture("evil_system.pth"), /global posix\.system/],
    ["evil_eval.pth", fixture("evil_eval.pth"), /global builtins\.eval/],
    ["evil_popen.pth", fixture("evil_popen.pth"), /global subprocess\.Popen/],
    ["a truncated zip", truncated, /truncated or corrupt/],
    ["a zip bomb", bomb, new RegExp(`declares 2147483647 bytes, over the ${maxUpload}-byte limit`)],
    ["a non-contiguous view", fixture("noncontiguous.pth"), /tensor "w_t" is a non-contiguous view/],
    ["a compressed tensor entry", fixture("compressed.pth"), /tensor entry net_a\/data\/0 is compressed/],
  ])("%s is refused with BAD_USER_INPUT naming the problem, nothing stored", async (label, bytes, message) => {
    const before = await server.app.services.database.prisma.model.count();
    const result = await register(`bad-${label}`, bytes);
    expect(result.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(result.errors?.[0]?.message).toMatch(message);
    expect(await server.app.services.database.prisma.model.count()).toBe(before);
    expect(await stored(sha(bytes))).toEqual({ row: false, blob: false });
  });
});
