import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { seedBasics } from "./support/fixtures";
import { upload } from "./support/http";
import { buildSegNet } from "../src/core/formats/onnx/testing/buildSegNet";
import { writeSafetensors } from "../src/core/formats/safetensors/testing/writeSafetensors";

/*
 * buildSegNet's defaults (inChannels 3, width 8, classes 4), counted by hand:
 *   backbone.stem.conv   weight 8·3·3·3 = 216, bias 8
 *   backbone.layer1.conv weight 8·8·3·3 = 576, bias 8
 *   backbone.layer1.gamma 1·8·1·1 = 8                     → backbone 816 in 5 tensors
 *   head A: decode_head.conv_seg weight 4·8·1·1 = 32, bias 4  → 36 in 2 tensors; total 852
 *   head B: decode_head.conv1 weight 16·8·3·3 = 1152, bias 16; conv_seg weight 4·16 = 64, bias 4
 *           → 1236 in 4 tensors; total 2052
 * Head B shares with head A the whole backbone and conv_seg.bias ([4]): 816 + 4 = 820 elements.
 */
const REGISTER = `mutation($i: RegisterModelInput!) { registerModel(input: $i) {
  id name origin artifact { sha256 sizeBytes format }
  structure { hash format tensorCount mergeableTensorCount parameterCount layerCount layerOrderSource generatedNameCount
    parameterCountByDtype { dtype tensorCount parameterCount } groups { prefix tensorCount parameterCount } } } }`;

describe.each(databaseKinds)("artifacts, registration and candidates (%s)", (kind) => {
  let server: TestServer;
  let importRoot: string;
  let outside: string;
  let taskId: string;

  beforeAll(async () => {
    importRoot = fs.mkdtempSync(path.join(os.tmpdir(), "lm-import-"));
    outside = fs.mkdtempSync(path.join(os.tmpdir(), "lm-outside-"));
    server = await startTestServer(kind, { LAYERMERGE_IMPORT_ROOTS: importRoot, LAYERMERGE_MAX_UPLOAD_BYTES: String(1 << 20) });
    taskId = (await seedBasics(server)).task.id;
  });
  afterAll(async () => {
    await server.stop();
    fs.rmSync(importRoot, { recursive: true, force: true });
    fs.rmSync(outside, { recursive: true, force: true });
  });

  const register = (input: Record<string, unknown>) => server.gql(REGISTER, { i: { taskId, ...input } });
  const counts = async () => {
    const prisma = server.app.services.database.prisma;
    return { models: await prisma.model.count(), structures: await prisma.structure.count(), artifacts: await prisma.artifact.count() };
  };
  const blobs = () => {
    const root = path.join(server.db.dataDir, "artifacts");
    const out: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(path.join(d, e.name));
        else out.push(e.name);
      }
    };
    walk(root);
    return out.sort();
  };

  test("PUT, HEAD and ranged GET of an artifact; the size cap answers 413 and keeps nothing", async () => {
    const bytes = buildSegNet().bytes;
    const sha = createHash("sha256").update(bytes).digest("hex");
    const put = await upload(server.origin, bytes);
    expect(put).toEqual({ status: 201, body: { sha256: sha, sizeBytes: bytes.length, created: true } });
    expect((await upload(server.origin, bytes)).body.created).toBe(false);

    const head = await fetch(`${server.origin}/artifacts/${sha}`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(bytes.length));
    expect((await fetch(`${server.origin}/artifacts/${"0".repeat(64)}`, { method: "HEAD" })).status).toBe(404);

    const whole = Buffer.from(await (await fetch(`${server.origin}/artifacts/${sha}`)).arrayBuffer());
    expect(whole.equals(Buffer.from(bytes))).toBe(true);
    const part = await fetch(`${server.origin}/artifacts/${sha}`, { headers: { range: "bytes=10-19" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 10-19/${bytes.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(Buffer.from(bytes.subarray(10, 20)))).toBe(true);
    const suffix = await fetch(`${server.origin}/artifacts/${sha}`, { headers: { range: "bytes=-5" } });
    expect(Buffer.from(await suffix.arrayBuffer()).equals(Buffer.from(bytes.subarray(bytes.length - 5)))).toBe(true);
    expect((await fetch(`${server.origin}/artifacts/${sha}`, { headers: { range: `bytes=${bytes.length}-` } })).status).toBe(416);

    const before = blobs();
    const tooBig = await upload(server.origin, new Uint8Array((1 << 20) + 1));
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error.code).toBe("PAYLOAD_TOO_LARGE");
    expect(blobs()).toEqual(before);
    // The uploaded-but-unregistered blob is cleaned up when its registration fails below; keep it for now.
  });

  test("an uploaded ONNX model shows its full structure; counts match the hand count", async () => {
    const net = buildSegNet({ seed: 1 });
    const { body } = await upload(server.origin, net.bytes);
    const result = await register({ name: "segnet-a", artifactSha256: body.sha256 });
    expect(result.errors).toBeUndefined();
    const m = result.data.registerModel;
    expect(m.artifact).toEqual({ sha256: body.sha256, sizeBytes: net.bytes.length, format: "onnx" });
    expect(m.structure).toMatchObject({
      format: "onnx",
      tensorCount: 7,
      mergeableTensorCount: 7,
      parameterCount: 852,
      layerCount: 4,
      layerOrderSource: "GRAPH",
      generatedNameCount: 0,
      parameterCountByDtype: [{ dtype: "F32", tensorCount: 7, parameterCount: 852 }],
      groups: [
        { prefix: "backbone", tensorCount: 5, parameterCount: 816 },
        { prefix: "decode_head", tensorCount: 2, parameterCount: 36 },
      ],
    });
    const page = await server.ok(`query($id: ID!) { model(id: $id) { structure { tensors(first: 3) { totalCount pageInfo { hasNextPage endCursor } edges { node { name shape dtype layerIndex group mergeable } } } } } }`, { id: m.id });
    const t = page.model.structure.tensors;
    expect(t.totalCount).toBe(7);
    expect(t.edges.map((e: any) => e.node)).toEqual([
      { name: "backbone.stem.conv.weight", shape: [8, 3, 3, 3], dtype: "F32", layerIndex: 0, group: "backbone", mergeable: true },
      { name: "backbone.stem.conv.bias", shape: [8], dtype: "F32", layerIndex: 0, group: "backbone", mergeable: true },
      { name: "backbone.layer1.conv.weight", shape: [8, 8, 3, 3], dtype: "F32", layerIndex: 1, group: "backbone", mergeable: true },
    ]);
    const biases = await server.ok(`query($id: ID!) { model(id: $id) { structure { tensors(nameContains: ".BIAS") { totalCount edges { node { name } } } } } }`, { id: m.id });
    expect(biases.model.structure.tensors.edges.map((e: any) => e.node.name)).toEqual(["backbone.stem.conv.bias", "backbone.layer1.conv.bias", "decode_head.conv_seg.bias"]);
    const rest = await server.ok(`query($id: ID!, $a: String) { model(id: $id) { structure { tensors(after: $a, group: "decode_head") { edges { node { name layerIndex } } } } } }`, { id: m.id, a: null });
    expect(rest.model.structure.tensors.edges.map((e: any) => [e.node.name, e.node.layerIndex])).toEqual([
      ["decode_head.conv_seg.weight", 3],
      ["decode_head.conv_seg.bias", 3],
    ]);
  });

  test("fp16, Constant-node, typed-field, unsorted and quantized ONNX variants", async () => {
    const cases: Array<[string, Parameters<typeof buildSegNet>[0], Record<string, unknown>]> = [
      // fp16: the same 852 parameters, stored as F16.
      ["fp16", { dtype: "F16", nodeOrder: "unsorted" }, { parameterCount: 852, tensorCount: 7, parameterCountByDtype: [{ dtype: "F16", tensorCount: 7, parameterCount: 852 }] }],
      ["constants", { constants: "constant", encoding: "typed" }, { parameterCount: 852, tensorCount: 7 }],
      // Quantized: layer1's weight is int8 (+ scale, zero point) and the head ConvInteger's
      // weight uint8 (+ zero point): 576 + 32 elements leave the parameter count, listed but not
      // mergeable: 852 − 576 − 32 = 244 parameters in 5 float tensors, + 5 quantized tensors.
      ["quantized", { quantized: true }, { parameterCount: 244, tensorCount: 10, mergeableTensorCount: 5 }],
    ];
    for (const [name, options, expected] of cases) {
      const net = buildSegNet(options);
      const { body } = await upload(server.origin, net.bytes);
      const result = await register({ name: `variant-${name}`, artifactSha256: body.sha256 });
      expect(result.errors).toBeUndefined();
      expect(result.data.registerModel.structure).toMatchObject(expected);
      expect(result.data.registerModel.structure.parameterCount).toBe(net.description.parameterCount);
    }
    const q = await server.ok(`{ models(first: 1, where: { nameContains: "variant-quantized" }) { edges { node { structure { tensors(first: 100) { edges { node { name dtype mergeable } } } } } } } }`);
    const tensors = q.models.edges[0].node.structure.tensors.edges.map((e: any) => e.node);
    expect(tensors.filter((t: any) => !t.mergeable).map((t: any) => t.dtype).sort()).toEqual(["F32", "I8", "I8", "U8", "U8"]);
    // The two counts as the tensor list gives them: every tensor, and the mergeable ones.
    const { structure } = q.models.edges[0].node;
    const counted = await server.ok(`{ models(first: 1, where: { nameContains: "variant-quantized" }) { edges { node { structure { tensorCount mergeableTensorCount } } } } }`);
    expect(counted.models.edges[0].node.structure).toEqual({ tensorCount: structure.tensors.edges.length, mergeableTensorCount: tensors.filter((t: any) => t.mergeable).length });
  });

  test("identical structures are stored once", async () => {
    const before = (await counts()).structures;
    const a = await upload(server.origin, buildSegNet({ seed: 7 }).bytes);
    const b = await upload(server.origin, buildSegNet({ seed: 8 }).bytes);
    expect(a.body.sha256).not.toBe(b.body.sha256);
    const ra = await register({ name: "same-arch-7", artifactSha256: a.body.sha256 });
    const rb = await register({ name: "same-arch-8", artifactSha256: b.body.sha256 });
    expect(ra.data.registerModel.structure.hash).toBe(rb.data.registerModel.structure.hash);
    // segnet-a (seed 1) already created this structure.
    expect((await counts()).structures).toBe(before);
  });

  test("the Artifact row records the stored bytes' layout; the same bytes registered again reuse the row", async () => {
    // Not in name order (so the storage order is the layer order).
    const bytes = writeSafetensors([
      { name: "probe.b.weight", dtype: "F32", shape: [2, 3] },
      { name: "probe.a.bias", dtype: "F32", shape: [4] },
    ]);
    // Data starts after the 8-byte length and the JSON header; offsets are absolute in the file.
    const dataStart = 8 + Number(Buffer.from(bytes).readBigUInt64LE(0));
    const sha = (await upload(server.origin, bytes)).body.sha256;
    const before = await counts();
    const startedAt = Date.now();
    const first = await register({ name: "layout-1", artifactSha256: sha });
    expect(first.errors).toBeUndefined();
    const prisma = server.app.services.database.prisma;
    const row = await prisma.artifact.findUniqueOrThrow({ where: { sha256: sha } });
    expect(row).toMatchObject({ sizeBytes: BigInt(bytes.length), format: "safetensors", storageKey: sha });
    expect(row.createdAt.getTime()).toBeGreaterThanOrEqual(startedAt - 1000);
    expect(row.createdAt.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
    const layout = row.layout as any;
    expect(layout).toMatchObject({ format: "safetensors", layerCount: 2, layerOrderSource: "STORAGE_ORDER", generatedNameCount: 0, metadata: {} });
    expect(layout.tensors.map((t: any) => [t.name, t.dtype, t.shape, t.layerIndex, t.location])).toEqual([
      ["probe.b.weight", "F32", [2, 3], 0, { kind: "raw", offset: dataStart, length: 24 }],
      ["probe.a.bias", "F32", [4], 1, { kind: "raw", offset: dataStart + 24, length: 16 }],
    ]);

    if (kind === "postgres") {
      // Stored as json text, not jsonb (prisma/schema.prisma says why).
      const [column] = await prisma.$queryRaw<Array<{ type: string }>>`SELECT data_type AS "type" FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'Artifact' AND column_name = 'layout'`;
      expect(column?.type).toBe("json");
    }

    const second = await register({ name: "layout-2", artifactSha256: sha });
    expect(second.errors).toBeUndefined();
    expect(second.data.registerModel.artifact.sha256).toBe(sha);
    expect(await counts()).toEqual({ models: before.models + 2, structures: before.structures + 1, artifacts: before.artifacts + 1 });
    const models = await prisma.model.findMany({ where: { name: { in: ["layout-1", "layout-2"] } }, select: { artifactId: true } });
    expect(models.map((m) => m.artifactId)).toEqual([row.id, row.id]);
  });

  test("the same bytes registered concurrently under eight names share one Artifact row", async () => {
    const bytes = writeSafetensors([{ name: "race.w", dtype: "F32", shape: [3] }], { metadata: { race: "1" } });
    const sha = (await upload(server.origin, bytes)).body.sha256;
    const before = await counts();
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => register({ name: `race-${i}`, artifactSha256: sha })));
    expect(results.map((r) => r.errors)).toEqual(Array(8).fill(undefined));
    expect(await counts()).toEqual({ models: before.models + 8, structures: before.structures + 1, artifacts: before.artifacts + 1 });
    const prisma = server.app.services.database.prisma;
    const artifact = await prisma.artifact.findUniqueOrThrow({ where: { sha256: sha } });
    const models = await prisma.model.findMany({ where: { name: { startsWith: "race-" } }, select: { artifactId: true } });
    expect(models.map((m) => m.artifactId)).toEqual(Array(8).fill(artifact.id));
  });

  test("candidates: same architecture first, shared backbone next with the right fraction and groups, unrelated never", async () => {
    const anchor = (await server.ok(`{ models(where: { nameContains: "segnet-a" }) { edges { node { id } } } }`)).models.edges[0].node.id;
    const headB = await upload(server.origin, buildSegNet({ heads: "B", seed: 3 }).bytes);
    const rb = await register({ name: "segnet-b", artifactSha256: headB.body.sha256 });
    expect(rb.data.registerModel.structure.parameterCount).toBe(2052);
    const unrelated = writeSafetensors([
      { name: "encoder.block.0.weight", dtype: "F32", shape: [16, 16] },
      { name: "encoder.block.0.bias", dtype: "F32", shape: [16] },
    ]);
    const ru = await register({ name: "unrelated", artifactSha256: (await upload(server.origin, unrelated)).body.sha256 });
    expect(ru.errors).toBeUndefined();
    expect(ru.data.registerModel.structure).toMatchObject({ format: "safetensors", parameterCount: 272, layerOrderSource: "STORAGE_ORDER" });

    const { mergeCandidates } = await server.ok(
      `query($a: ID!) { mergeCandidates(anchorId: $a, minSharedFraction: 0.5, first: 50) { totalCount edges { node {
          model { name } sharedTensorCount sharedParameterCount sharedFraction nameMatchingReliable
          groups { prefix shared total sharedParameters totalParameters }
          mismatches { name shapeA shapeB dtypeA dtypeB mergeable } } } } }`,
      { a: anchor },
    );
    const names = mergeCandidates.edges.map((e: any) => e.node.model.name);
    // Fraction 1: the same architecture (other seeds), its Constant-node copy and its fp16 copy
    // (same names and shapes; F16 vs F32 is shared and converted when merged). Then head B at
    // 820/852. The quantized variant shares only 240/852 < 0.5 (its quantized weights have other
    // names and are not parameters); the unrelated model shares nothing.
    expect(names.slice(0, 4).sort()).toEqual(["same-arch-7", "same-arch-8", "variant-constants", "variant-fp16"]);
    expect(names.slice(4)).toEqual(["segnet-b"]);
    expect(mergeCandidates.totalCount).toBe(5);
    const byName = Object.fromEntries(mergeCandidates.edges.map((e: any) => [e.node.model.name, e.node]));
    expect(byName["same-arch-7"]).toMatchObject({ sharedTensorCount: 7, sharedParameterCount: 852, sharedFraction: 1, mismatches: [] });
    expect(byName["variant-fp16"].sharedFraction).toBe(1);
    expect(byName["variant-fp16"].mismatches).toHaveLength(7);
    expect(byName["variant-fp16"].mismatches[0]).toMatchObject({ dtypeA: "F32", dtypeB: "F16", mergeable: true });
    const b = byName["segnet-b"];
    expect(b.sharedTensorCount).toBe(6);
    expect(b.sharedParameterCount).toBe(820);
    expect(b.sharedFraction).toBeCloseTo(820 / 852, 12);
    expect(b.groups).toEqual([
      { prefix: "backbone", shared: 5, total: 5, sharedParameters: 816, totalParameters: 816 },
      { prefix: "decode_head", shared: 1, total: 2, sharedParameters: 4, totalParameters: 36 },
    ]);
    expect(b.mismatches).toEqual([{ name: "decode_head.conv_seg.weight", shapeA: [4, 8, 1, 1], shapeB: [4, 16, 1, 1], dtypeA: "F32", dtypeB: "F32", mergeable: false }]);
    expect(names).not.toContain("unrelated");
    expect(names).not.toContain("segnet-a");
    // Fraction 1 candidates come before segnet-b (820/852 ≈ 0.962).
    const fractions = mergeCandidates.edges.map((e: any) => e.node.sharedFraction);
    expect([...fractions].sort((x: number, y: number) => y - x)).toEqual(fractions);
    const loose = await server.ok(`query($a: ID!) { mergeCandidates(anchorId: $a, minSharedFraction: 0.2, first: 50) { edges { node { model { name } sharedParameterCount sharedFraction } } } }`, { a: anchor });
    const quantized = loose.mergeCandidates.edges.find((e: any) => e.node.model.name === "variant-quantized").node;
    // stem 224 + layer1 bias 8 + gamma 8 = 240; its conv_seg bias is [1,4,1,1] (added by an Add
    // after the ConvInteger), a shape mismatch with the anchor's [4].
    expect(quantized.sharedParameterCount).toBe(240);
    expect(quantized.sharedFraction).toBeCloseTo(240 / 852, 12);

    // Paging gives the same order; a high threshold excludes segnet-b; deleted models vanish.
    const page1 = await server.ok(`query($a: ID!) { mergeCandidates(anchorId: $a, first: 2) { pageInfo { endCursor hasNextPage } edges { node { model { name } } } } }`, { a: anchor });
    const page2 = await server.ok(`query($a: ID!, $c: String) { mergeCandidates(anchorId: $a, first: 50, after: $c) { edges { node { model { name } } } } }`, { a: anchor, c: page1.mergeCandidates.pageInfo.endCursor });
    expect([...page1.mergeCandidates.edges, ...page2.mergeCandidates.edges].map((e: any) => e.node.model.name)).toEqual(names);
    const strict = await server.ok(`query($a: ID!) { mergeCandidates(anchorId: $a, minSharedFraction: 0.99) { edges { node { model { name } } } } }`, { a: anchor });
    expect(strict.mergeCandidates.edges.map((e: any) => e.node.model.name)).not.toContain("segnet-b");
    await server.ok(`mutation($id: ID!) { deleteModel(id: $id) { id } }`, { id: rb.data.registerModel.id });
    const afterDelete = await server.ok(`query($a: ID!) { mergeCandidates(anchorId: $a, first: 50) { totalCount edges { node { model { name } } } } }`, { a: anchor });
    expect(afterDelete.mergeCandidates.edges.map((e: any) => e.node.model.name)).not.toContain("segnet-b");
    expect(afterDelete.mergeCandidates.totalCount).toBe(mergeCandidates.totalCount - 1);

    const cmp = await server.ok(`query($a: ID!, $b: ID!) { compareStructures(aId: $a, bId: $b, cap: 1) { sharedTensorCount sharedParameterCount fractionOfA fractionOfB
        onlyInA { total items { name } } onlyInB { total items { name shape } } mismatches { total items { name } } shared { total items { name } } } }`, { a: anchor, b: rb.data.registerModel.id });
    expect(cmp.compareStructures).toMatchObject({
      sharedTensorCount: 6,
      sharedParameterCount: 820,
      onlyInA: { total: 0, items: [] },
      onlyInB: { total: 2, items: [{ name: "decode_head.conv1.weight", shape: [16, 8, 3, 3] }] },
      mismatches: { total: 1, items: [{ name: "decode_head.conv_seg.weight" }] },
      shared: { total: 6 },
    });
    expect(cmp.compareStructures.fractionOfB).toBeCloseTo(820 / 2052, 12);
  });

  test("a model registered from the anchor's own file is marked identicalWeights and left out of candidates unless includeIdentical", async () => {
    const twin = buildSegNet({ seed: 21 });
    const sha = (await upload(server.origin, twin.bytes)).body.sha256;
    const anchor = (await register({ name: "twin-anchor", artifactSha256: sha })).data.registerModel.id;
    const copy = (await register({ name: "twin-copy", artifactSha256: sha })).data.registerModel;
    expect(copy.artifact.sha256).toBe(sha);
    await register({ name: "twin-other", artifactSha256: (await upload(server.origin, buildSegNet({ seed: 22 }).bytes)).body.sha256 });
    const ask = async (includeIdentical?: boolean) => {
      const { mergeCandidates } = await server.ok(
        `query($a: ID!, $i: Boolean) { mergeCandidates(anchorId: $a, first: 200, includeIdentical: $i) { totalCount edges { node { model { name } identicalWeights sharedFraction } } } }`,
        { a: anchor, i: includeIdentical ?? null },
      );
      return { total: mergeCandidates.totalCount, byName: new Map(mergeCandidates.edges.map((e: any) => [e.node.model.name, e.node])) as Map<string, any> };
    };
    const check = async () => {
      const plain = await ask();
      expect(plain.byName.has("twin-copy")).toBe(false);
      expect(plain.byName.get("twin-other")).toMatchObject({ identicalWeights: false, sharedFraction: 1 });
      expect([...plain.byName.values()].every((c) => c.identicalWeights === false)).toBe(true);
      expect(plain.total).toBe(plain.byName.size);
      const all = await ask(true);
      expect(all.byName.get("twin-copy")).toMatchObject({ identicalWeights: true, sharedFraction: 1 });
      expect(all.byName.get("twin-other").identicalWeights).toBe(false);
      expect(all.total).toBe(plain.total + 1);
      expect([...all.byName.keys()].filter((n) => !plain.byName.has(n))).toEqual(["twin-copy"]);
    };
    await check();
    // Anchors with a target dataset page by score on it: the same rule on that path.
    const { datasets } = await server.ok(`{ datasets(first: 1) { edges { node { id } } } }`);
    await server.ok(`mutation($id: ID!, $d: ID!) { updateModel(id: $id, input: { targetDatasetId: $d }) { id } }`, { id: anchor, d: datasets.edges[0].node.id });
    await check();
  });
});
