import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { seedBasics } from "./support/fixtures";
import { upload } from "./support/http";
import { buildSegNet } from "../src/core/formats/onnx/testing/buildSegNet";
import { writeSafetensors, assembleSafetensors } from "../src/core/formats/safetensors/testing/writeSafetensors";

const REGISTER = `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id structure { parameterCount tensorCount layerOrderSource } artifact { sha256 sizeBytes } } }`;

describe.each(databaseKinds)("registration: imports and bad input (%s)", (kind) => {
  let server: TestServer;
  let root: string;
  let outside: string;
  let taskId: string;

  beforeAll(async () => {
    root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "lm-roots-")));
    outside = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "lm-out-")));
    server = await startTestServer(kind, { LAYERMERGE_IMPORT_ROOTS: root });
    taskId = (await seedBasics(server)).task.id;
  });
  afterAll(async () => {
    await server.stop();
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(outside, { recursive: true, force: true });
  });

  const register = (input: Record<string, unknown>) => server.gql(REGISTER, { i: { taskId, ...input } });
  const state = async () => {
    const prisma = server.app.services.database.prisma;
    const blobs: string[] = [];
    const walk = (d: string) => {
      if (!fs.existsSync(d)) return;
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(path.join(d, e.name));
        else blobs.push(e.name);
      }
    };
    walk(path.join(server.db.dataDir, "artifacts"));
    return { models: await prisma.model.count(), structures: await prisma.structure.count(), artifacts: await prisma.artifact.count(), blobs: blobs.sort() };
  };

  test("imports from a path under the roots; outside them (symlinks included) is FORBIDDEN", async () => {
    const file = path.join(root, "net.onnx");
    fs.writeFileSync(file, buildSegNet().bytes);
    const ok = await register({ name: "imported", path: file });
    expect(ok.errors).toBeUndefined();
    expect(ok.data.registerModel.structure.parameterCount).toBe(852);

    const outsideFile = path.join(outside, "net.onnx");
    fs.writeFileSync(outsideFile, buildSegNet().bytes);
    const denied = await register({ name: "outside", path: outsideFile });
    expect(denied.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    const link = path.join(root, "link.onnx");
    fs.symlinkSync(outsideFile, link);
    const viaLink = await register({ name: "via-link", path: link });
    expect(viaLink.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    const dotdot = await register({ name: "dotdot", path: path.join(root, "..", path.basename(outside), "net.onnx") });
    expect(dotdot.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    const relative = await register({ name: "relative", path: "net.onnx" });
    expect(relative.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.path" });
    const both = await register({ name: "both", path: file, artifactSha256: "0".repeat(64) });
    expect(both.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    const neither = await register({ name: "neither" });
    expect(neither.errors?.[0].message).toMatch(/exactly one/);
  });

  test("an ONNX model with external data is imported as one self-contained artifact", async () => {
    // Another seed than the first test's net.onnx: inlined, these bytes are a new artifact.
    const net = buildSegNet({ encoding: "external", externalFileName: "weights.bin", seed: 11 });
    const dir = path.join(root, "external");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "model.onnx"), net.bytes);
    fs.writeFileSync(path.join(dir, "weights.bin"), net.external!.bytes);
    const result = await register({ name: "external", path: path.join(dir, "model.onnx") });
    expect(result.errors).toBeUndefined();
    const { sha256, sizeBytes } = result.data.registerModel.artifact;
    // The stored file carries the weights itself: larger than the bare graph by at least the data.
    expect(sizeBytes).toBeGreaterThanOrEqual(net.bytes.length + net.external!.bytes.length - 4096);
    // The parse located tensors in the side file, not in the stored bytes: no layout is recorded.
    const artifact = await server.app.services.database.prisma.artifact.findUniqueOrThrow({ where: { sha256 } });
    expect(artifact.layout).toBeNull();
    // Registering the stored bytes again (as an upload) gives the same structure: nothing refers outside.
    const stored = Buffer.from(await (await fetch(`${server.origin}/artifacts/${sha256}`)).arrayBuffer());
    const again = await register({ name: "external-again", artifactSha256: (await upload(server.origin, stored)).body.sha256 });
    expect(again.errors).toBeUndefined();
    expect(again.data.registerModel.structure.parameterCount).toBe(852);

    // An uploaded model that needs side files is refused: an upload has none.
    const bare = await upload(server.origin, net.bytes);
    const refused = await register({ name: "external-bare", artifactSha256: bare.body.sha256 });
    expect(refused.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    // An external-data path that leaves the model's folder is refused, naming the tensor.
    const escaping = buildSegNet({ encoding: "external", externalFileName: "../escape.bin" });
    fs.writeFileSync(path.join(dir, "escaping.onnx"), escaping.bytes);
    const esc = await register({ name: "escaping", path: path.join(dir, "escaping.onnx") });
    expect(esc.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(esc.errors?.[0].message).toMatch(/escape|outside|\.\./i);
  });

  test("bad files are refused with BAD_USER_INPUT naming the problem, leaving no row and no blob", async () => {
    const valid = buildSegNet().bytes;
    const st = writeSafetensors([{ name: "a.weight", dtype: "F32", shape: [4, 4] }, { name: "a.bias", dtype: "F32", shape: [4] }]);
    // A header whose offsets overlap: b starts inside a.
    const overlapping = assembleSafetensors(JSON.stringify({ a: { dtype: "F32", shape: [4], data_offsets: [0, 16] }, b: { dtype: "F32", shape: [4], data_offsets: [8, 24] } }), new Uint8Array(24));
    const outOfFile = assembleSafetensors(JSON.stringify({ a: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }), new Uint8Array(8));
    const wrongSize = assembleSafetensors(JSON.stringify({ a: { dtype: "F32", shape: [5], data_offsets: [0, 16] } }), new Uint8Array(16));
    const absurd = assembleSafetensors(JSON.stringify({ a: { dtype: "F32", shape: [1e9, 1e9], data_offsets: [0, 16] } }), new Uint8Array(16));
    const random = new Uint8Array(4096).map((_, i) => (i * 2654435761) >>> 24);
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ["random bytes", random, /neither|protobuf|ONNX|wire|field/i],
      ["truncated onnx", valid.subarray(0, Math.floor(valid.length * 0.6)), /truncat|end|length|past|beyond/i],
      ["corrupted onnx", (() => { const b = Uint8Array.from(valid); b[3] = 0xff; b[4] = 0xff; b[5] = 0xff; return b; })(), /./],
      ["overlapping safetensors", overlapping, /overlap/i],
      ["out-of-file safetensors", outOfFile, /"a"/],
      ["size disagrees with shape", wrongSize, /"a"/],
      ["absurd dims", absurd, /"a"/],
    ];
    expect(st.length).toBeGreaterThan(0);
    for (const [label, bytes, message] of cases) {
      const before = await state();
      const up = await upload(server.origin, bytes);
      expect(up.status).toBe(201);
      const result = await register({ name: `bad-${label}`, artifactSha256: up.body.sha256 });
      expect({ label, code: result.errors?.[0].extensions?.code }).toEqual({ label, code: "BAD_USER_INPUT" });
      expect(result.errors?.[0].message).toMatch(message);
      expect(await state()).toEqual(before);
    }
    // An empty upload and an empty imported file.
    const emptyFile = path.join(root, "empty.onnx");
    fs.writeFileSync(emptyFile, "");
    const before = await state();
    const empty = await register({ name: "empty", path: emptyFile });
    expect(empty.errors?.[0].message).toMatch(/empty/);
    expect(await state()).toEqual(before);
    const unknownSha = await register({ name: "nope", artifactSha256: "ab".repeat(32) });
    expect(unknownSha.errors?.[0].extensions).toMatchObject({ code: "NOT_FOUND", field: "input.artifactSha256" });
    // Bad metadata is refused before anything is stored or parsed.
    const file = path.join(root, "net2.onnx");
    fs.writeFileSync(file, buildSegNet({ seed: 99 }).bytes);
    const noName = await register({ name: "", path: file });
    expect(noName.errors?.[0].extensions?.field).toBe("input.name");
    expect(await state()).toEqual(before);
    // An upload with bad metadata: the metadata's error wins over the file's, and the upload is
    // kept, to be registered once the metadata is fixed.
    const badFile = await upload(server.origin, random);
    const goodFile = await upload(server.origin, st);
    const uploaded = await state();
    expect(uploaded.blobs.length).toBe(before.blobs.length + 2);
    const both = await register({ name: "bad-both", taskId: "missing", artifactSha256: badFile.body.sha256 });
    expect(both.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.taskId" });
    const unnamed = await register({ name: " ", artifactSha256: goodFile.body.sha256 });
    expect(unnamed.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.name" });
    expect(await state()).toEqual(uploaded);
    const named = await register({ name: "named-at-last", artifactSha256: goodFile.body.sha256 });
    expect(named.errors).toBeUndefined();
    expect(named.data.registerModel.artifact.sha256).toBe(goodFile.body.sha256);
  });

  test("safetensors layer order: storage order, name-sorted fallback, and a given order", async () => {
    // Stored in forward order: blocks.2 before blocks.10 would be lost by a plain name sort.
    const forward = writeSafetensors([
      { name: "stem.weight", dtype: "F32", shape: [2, 2] },
      { name: "blocks.2.weight", dtype: "F32", shape: [2, 2] },
      { name: "blocks.10.weight", dtype: "F32", shape: [2, 2] },
      { name: "head.weight", dtype: "F32", shape: [2, 2] },
    ]);
    const r1 = await register({ name: "st-forward", artifactSha256: (await upload(server.origin, forward)).body.sha256 });
    expect(r1.data.registerModel.structure.layerOrderSource).toBe("STORAGE_ORDER");
    const sorted = writeSafetensors([
      { name: "blocks.10.weight", dtype: "F32", shape: [2, 2] },
      { name: "blocks.2.weight", dtype: "F32", shape: [2, 2] },
      { name: "head.weight", dtype: "F32", shape: [2, 2] },
      { name: "stem.weight", dtype: "F32", shape: [2, 2] },
    ]);
    const r2 = await register({ name: "st-sorted", artifactSha256: (await upload(server.origin, sorted)).body.sha256 });
    expect(r2.data.registerModel.structure.layerOrderSource).toBe("NAME_SORTED");
    const order = async (id: string) =>
      (await server.ok(`query($id: ID!) { model(id: $id) { structure { tensors { edges { node { name layerIndex } } } } } }`, { id })).model.structure.tensors.edges.map(
        (e: any) => `${e.node.layerIndex}:${e.node.name}`,
      );
    // Numeric-aware fallback: blocks.2 < blocks.10 < head < stem.
    expect(await order(r2.data.registerModel.id)).toEqual(["0:blocks.2.weight", "1:blocks.10.weight", "2:head.weight", "3:stem.weight"]);
    const r3 = await register({ name: "st-given", artifactSha256: (await upload(server.origin, sorted)).body.sha256, layerOrder: ["stem", "blocks.2", "blocks.10", "head"] });
    expect(r3.data.registerModel.structure.layerOrderSource).toBe("GIVEN");
    expect(await order(r3.data.registerModel.id)).toEqual(["0:stem.weight", "1:blocks.2.weight", "2:blocks.10.weight", "3:head.weight"]);
    const r4 = await register({ name: "st-from", artifactSha256: (await upload(server.origin, sorted)).body.sha256, layerOrderFromModelId: r1.data.registerModel.id });
    expect(await order(r4.data.registerModel.id)).toEqual(["0:stem.weight", "1:blocks.2.weight", "2:blocks.10.weight", "3:head.weight"]);
    const bad = await register({ name: "st-bad", artifactSha256: (await upload(server.origin, sorted)).body.sha256, layerOrder: ["nothing.here"] });
    expect(bad.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
  });
});
