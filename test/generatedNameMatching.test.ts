import * as fs from "node:fs";
import * as path from "node:path";
import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { seedBasics } from "./support/fixtures";
import { upload } from "./support/http";
import { waitForJob, JOB_FIELDS } from "./support/jobs";
import { bufferSource } from "../src/core/formats/byteSource";
import { parseOnnx } from "../src/core/formats/onnx/parseOnnx";
import { readTensorBytes } from "../src/core/formats/onnx/readTensorBytes";
import { StructureCatalog } from "../src/services/structureCatalog";
import { writeSafetensors } from "../src/core/formats/safetensors/testing/writeSafetensors";

/**
 * PyTorch exports whose weights carry exporter-generated names (onnx::Conv_N), written with the
 * pairs they share by src/core/formats/onnx/fixtures/generated-names/make_generated_name_exports.py,
 * which traced every initializer back to its PyTorch parameter. Through GraphQL: the registry
 * pairs them by position (AUTO), finds them as candidates, and merges two differently numbered
 * exports exactly as it merges the same two files renamed after their parameters, and measures
 * their weight similarity over the same pairs.
 */
const dir = path.join(__dirname, "..", "src/core/formats/onnx/fixtures/generated-names");
const expected = JSON.parse(fs.readFileSync(path.join(dir, "generated_name_exports.expected.json"), "utf8"));
const REGISTER = `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`;
const START = `mutation($i: StartMergeInput!) { startMerge(input: $i) { ${JOB_FIELDS} } }`;
const FILES = { headA: "backbone_head_a.onnx", headB: "backbone_head_b.onnx", numbered1: "numbered_1.onnx", numbered2: "numbered_2.onnx", named1: "named_1.onnx", named2: "named_2.onnx" };

function sortedPairs(pairs: Array<{ nameA: string; nameB: string }>): string[][] {
  return pairs.map((p) => [p.nameA, p.nameB]).sort();
}

/** Every F32 tensor of an ONNX file, by name, as float64 values. */
function tensorValues(file: string): Map<string, Float64Array> {
  return new Map([...tensorBytes(fs.readFileSync(path.join(dir, file)))].map(([name, b]) => [name, Float64Array.from(new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4))]));
}

/** The reference: float64 cosine of the concatenated pairs (of differences from c's tensors when given). */
function cosineOverPairs(pairs: Array<[Float64Array, Float64Array, Float64Array?]>): number {
  let dot = 0;
  let aa = 0;
  let bb = 0;
  for (const [x, y, z] of pairs) {
    expect(y.length).toBe(x.length);
    for (let i = 0; i < x.length; i++) {
      const p = z ? x[i]! - z[i]! : x[i]!;
      const q = z ? y[i]! - z[i]! : y[i]!;
      dot += p * q;
      aa += p * p;
      bb += q * q;
    }
  }
  return dot / Math.sqrt(aa * bb);
}

/** Every F32 tensor of an ONNX file's bytes, by name. */
function tensorBytes(bytes: Uint8Array): Map<string, Buffer> {
  const source = bufferSource(bytes);
  return new Map(parseOnnx(source).tensors.map((t) => [t.name, Buffer.from(readTensorBytes(source, t))]));
}

describe.each(databaseKinds)("matching exports with generated names (%s)", (kind) => {
  let server: TestServer;
  let taskId: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    server = await startTestServer(kind);
    taskId = (await seedBasics(server)).task.id;
    for (const [name, file] of Object.entries(FILES)) {
      const { body } = await upload(server.origin, fs.readFileSync(path.join(dir, file)));
      ids[name] = (await server.ok(REGISTER, { i: { name, taskId, artifactSha256: body.sha256 } })).registerModel.id;
    }
  });
  afterAll(() => server.stop());

  test("positional keys are stored with the structure: the API lists them and a fresh catalog reads them back", async () => {
    const parsed = parseOnnx(bufferSource(fs.readFileSync(path.join(dir, FILES.headB))));
    const { model } = await server.ok(`query($id: ID!) { model(id: $id) { structure { id tensors(first: 100) { edges { node { name positionKey } } } } } }`, { id: ids.headB });
    const listed = model.structure.tensors.edges.map((e: any) => [e.node.name, e.node.positionKey]);
    expect(listed).toEqual(parsed.tensors.map((t) => [t.name, t.positionKey]));
    const fresh = await new StructureCatalog(server.app.services.database.prisma).get(model.structure.id);
    expect(fresh.tensors.map((t) => [t.name, t.positionKey])).toEqual(listed);
    const plan = await new StructureCatalog(server.app.services.database.prisma).planModel(model.structure.id);
    expect(plan.tensors.map((t) => [t.name, t.positionKey])).toEqual(listed);
  });

  test("compareStructures pairs one backbone under two heads by position: exactly the backbone's tensors", async () => {
    const query = `query($a: ID!, $b: ID!, $m: TensorMatching) { compareStructures(aId: $a, bId: $b, matching: $m) {
      matching sharedTensorCount shared { total items { name nameB } } onlyInA { total } onlyInB { total } } }`;
    const auto = (await server.ok(query, { a: ids.headA, b: ids.headB })).compareStructures;
    expect(auto.matching).toBe("POSITION");
    expect(auto.sharedTensorCount).toBe(expected.backboneHeads.pairs.length);
    expect(auto.shared.items.map((s: { name: string; nameB: string }) => [s.name, s.nameB]).sort()).toEqual(expected.backboneHeads.pairs);
    expect(auto.onlyInA.total).toBe(4);
    expect(auto.onlyInB.total).toBe(4);
    // By name these two share nothing: their numbers mean other tensors (onnx::Conv_52 is stage 3 in one, the stem in the other).
    const byName = (await server.ok(query, { a: ids.headA, b: ids.headB, m: "NAME" })).compareStructures;
    expect(byName.matching).toBe("NAME");
    expect(byName.sharedTensorCount).toBe(0);
  });

  test("mergeCandidates finds the other head and the other numbering by position, with their pairs", async () => {
    const query = `query($a: ID!, $m: TensorMatching, $min: Float) { mergeCandidates(anchorId: $a, matching: $m, minSharedFraction: $min) {
      totalCount edges { node { model { name } matching sharedTensorCount sharedFraction nameMatchingReliable pairs { nameA nameB } } } } }`;
    const heads = (await server.ok(query, { a: ids.headA, min: 0.01 })).mergeCandidates;
    const headB = heads.edges.find((e: any) => e.node.model.name === "headB").node;
    expect(headB).toMatchObject({ matching: "POSITION", sharedTensorCount: 6, nameMatchingReliable: false });
    expect(sortedPairs(headB.pairs)).toEqual(expected.backboneHeads.pairs);
    expect(headB.sharedFraction).toBeLessThan(1);
    // The numbered and named files are head A's network with other weights: the same positions throughout.
    expect(heads.edges.map((e: any) => [e.node.model.name, e.node.sharedFraction]).sort()).toEqual([
      ["headB", headB.sharedFraction], ["named1", 1], ["named2", 1], ["numbered1", 1], ["numbered2", 1],
    ]);

    const numbered = (await server.ok(query, { a: ids.numbered1, min: 0.99 })).mergeCandidates;
    const names = numbered.edges.map((e: any) => e.node.model.name).sort();
    // The other numbering, and both renamed copies (same graph, so the same positions).
    expect(names).toEqual(["headA", "named1", "named2", "numbered2"]);
    const other = numbered.edges.find((e: any) => e.node.model.name === "numbered2").node;
    expect(other.sharedFraction).toBe(1);
    expect(sortedPairs(other.pairs)).toEqual(expected.numbered.pairs);

    // Asked to match by name, the other head shares nothing worth listing.
    const byName = (await server.ok(query, { a: ids.headA, m: "NAME", min: 0.01 })).mergeCandidates;
    expect(byName.edges.map((e: any) => e.node.model.name)).toEqual(["numbered1"]);
  });

  test("safetensors have no positional keys: POSITION finds no candidate for them, names still do", async () => {
    for (const [name, value] of [["st1", 1], ["st2", 2]] as const) {
      const bytes = writeSafetensors([{ name: "backbone.conv.weight", dtype: "F32", shape: [2], data: new Uint8Array(Float32Array.from([value, value]).buffer) }]);
      const { body } = await upload(server.origin, bytes);
      ids[name] = (await server.ok(REGISTER, { i: { name, taskId, artifactSha256: body.sha256 } })).registerModel.id;
    }
    const query = `query($a: ID!, $m: TensorMatching) { mergeCandidates(anchorId: $a, matching: $m) { totalCount edges { node { model { name } matching } } } }`;
    expect((await server.ok(query, { a: ids.st1, m: "POSITION" })).mergeCandidates).toEqual({ totalCount: 0, edges: [] });
    expect((await server.ok(query, { a: ids.st1 })).mergeCandidates).toEqual({ totalCount: 1, edges: [{ node: { model: { name: "st2" }, matching: "NAME" } }] });
    const refused = await server.gql(`query($i: StartMergeInput!) { mergePlan(input: $i) { matching } }`, { i: { anchorId: ids.st1, modelIds: [ids.st2], matching: "POSITION" } });
    expect(refused.errors?.[0]).toMatchObject({ extensions: { code: "BAD_USER_INPUT" } });
    expect(refused.errors?.[0].message).toMatch(/has no positional keys/);
  });

  test("a merge of two differently numbered exports equals the merge of the same exports renamed after their parameters", async () => {
    const plan = (await server.ok(`query($i: StartMergeInput!) { mergePlan(input: $i) { matching mergedTensorCount inputs { role pairs { nameA nameB } } } }`,
      { i: { anchorId: ids.numbered1, modelIds: [ids.numbered2] } })).mergePlan;
    expect(plan.matching).toBe("POSITION");
    expect(plan.mergedTensorCount).toBe(expected.numbered.pairs.length);
    expect(sortedPairs(plan.inputs[1].pairs)).toEqual(expected.numbered.pairs);

    const run = async (anchorId: string, modelId: string, name: string, matching: string) => {
      const job = await waitForJob(server, (await server.ok(START, { i: { anchorId, modelIds: [modelId], output: { name } } })).startMerge.id);
      expect(job.status).toBe("SUCCEEDED");
      const { model } = await server.ok(`query($id: ID!) { model(id: $id) { artifact { sha256 } merge { matching } } }`, { id: job.model.id });
      expect(model.merge.matching).toBe(matching);
      return tensorBytes(new Uint8Array(await (await fetch(`${server.origin}/artifacts/${model.artifact.sha256}`)).arrayBuffer()));
    };
    const byPosition = await run(ids.numbered1, ids.numbered2, "numbered-merge", "POSITION");
    const byName = await run(ids.named1, ids.named2, "named-merge", "NAME");
    const rename = expected.named["numbered_1.onnx"].names as Record<string, string>;
    // The output keeps the anchor's names; each tensor equals the named merge's, byte for byte.
    expect([...byPosition.keys()].sort()).toEqual(Object.keys(rename).sort());
    for (const [name, bytes] of byPosition) expect(bytes.equals(byName.get(rename[name])!)).toBe(true);
    // And it is a merge: not the anchor's bytes.
    const anchor = tensorBytes(fs.readFileSync(path.join(dir, FILES.numbered1)));
    expect([...byPosition].filter(([name, bytes]) => !bytes.equals(anchor.get(name)!)).length).toBeGreaterThan(0);
  });

  test("similarity pairs generated names by position: two numberings measure as their named copies do, deltas from an ancestor paired by position too", async () => {
    const EDGE = `mutation($i: AddLineageEdgeInput!) { addLineageEdge(input: $i) { id } }`;
    // Head A is the same network numbered as numbered_1: the parent both were fine-tuned from.
    for (const child of ["numbered1", "numbered2"]) await server.ok(EDGE, { i: { parentId: ids.headA, childId: ids[child], relation: "FINETUNED_FROM" } });
    const query = `query($a: ID!) { mergeCandidates(anchorId: $a, orderBy: SIMILARITY, minSharedFraction: 0.99, first: 50) { edges { node { model { name } matching
      similarity { cosine ancestorDeltaCosine ancestor { name } comparedTensorCount comparedParameterCount } } } } }`;
    const settled = async (anchor: string, other: string) => {
      const until = Date.now() + 60_000;
      for (;;) {
        const node = (await server.ok(query, { a: ids[anchor] })).mergeCandidates.edges.map((e: any) => e.node).find((n: any) => n.model.name === other);
        if (node.similarity !== null) return node;
        if (Date.now() > until) throw new Error(`${anchor} ~ ${other}: no similarity within a minute`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const numbered = await settled("numbered1", "numbered2");
    const named = await settled("named1", "named2");
    expect(numbered.matching).toBe("POSITION");
    expect(named.matching).toBe("NAME");

    // The pairs the export script traced to the same PyTorch parameter, read in float64 by the test.
    const one = tensorValues(FILES.numbered1);
    const two = tensorValues(FILES.numbered2);
    const pairs = expected.numbered.pairs as Array<[string, string]>;
    const elements = pairs.reduce((t, [a]) => t + one.get(a)!.length, 0);
    const reference = cosineOverPairs(pairs.map(([a, b]) => [one.get(a)!, two.get(b)!]));
    expect(numbered.similarity.comparedTensorCount).toBe(pairs.length);
    expect(numbered.similarity.comparedParameterCount).toBe(elements);
    expect(Math.abs(numbered.similarity.cosine - reference)).toBeLessThanOrEqual(1e-12);
    // The named copies, compared by name, hold the same values: the same figure.
    expect(named.similarity.comparedTensorCount).toBe(pairs.length);
    expect(named.similarity.comparedParameterCount).toBe(elements);
    expect(Math.abs(named.similarity.cosine - numbered.similarity.cosine)).toBeLessThanOrEqual(1e-12);

    // Deltas from head A, whose tensors pair with numbered_1's through the parameter each was traced to.
    const headA = tensorValues(FILES.headA);
    const headAByParameter = new Map(Object.entries(expected.parameterPaths.a as Record<string, string>).map(([name, parameter]) => [parameter, name]));
    const n1Parameter = expected.parameterPaths.n1 as Record<string, string>;
    const delta = cosineOverPairs(pairs.map(([a, b]) => [one.get(a)!, two.get(b)!, headA.get(headAByParameter.get(n1Parameter[a]!)!)!]));
    expect(numbered.similarity.ancestor).toEqual({ name: "headA" });
    expect(Math.abs(numbered.similarity.ancestorDeltaCosine - delta)).toBeLessThanOrEqual(1e-12);
    expect(Math.abs(delta - reference)).toBeGreaterThan(1e-3);
    // Anchored by numbered_2, whose numbers are not head A's: the ancestor's tensors are found by position too.
    const reverse = await settled("numbered2", "numbered1");
    expect(reverse.similarity.ancestor).toEqual({ name: "headA" });
    expect(Math.abs(reverse.similarity.cosine - reference)).toBeLessThanOrEqual(1e-12);
    expect(Math.abs(reverse.similarity.ancestorDeltaCosine - delta)).toBeLessThanOrEqual(1e-12);
  });
});
