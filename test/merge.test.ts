import { createHash } from "node:crypto";
import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { seedBasics } from "./support/fixtures";
import { upload } from "./support/http";
import { waitForJob, JOB_FIELDS } from "./support/jobs";
import { runOnnx } from "./support/ortRun";
import { buildSegNet, type SegNet } from "../src/core/formats/onnx/testing/buildSegNet";
import { writeSafetensors } from "../src/core/formats/safetensors/testing/writeSafetensors";
import { bufferSource } from "../src/core/formats/byteSource";
import { parseOnnx } from "../src/core/formats/onnx/parseOnnx";
import { readTensorBytes } from "../src/core/formats/onnx/readTensorBytes";
import { parseSafetensors } from "../src/core/formats/safetensors/parseSafetensors";

const REGISTER = `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id name } }`;
const START = `mutation($i: StartMergeInput!) { startMerge(input: $i) { ${JOB_FIELDS} } }`;

/** Every tensor of a merged ONNX file as float32 values, by name. */
function onnxValues(bytes: Uint8Array): Map<string, Float32Array> {
  const source = bufferSource(bytes);
  const parsed = parseOnnx(source);
  return new Map(parsed.tensors.filter((t) => t.dtype === "F32").map((t) => {
    const raw = readTensorBytes(source, t);
    return [t.name, new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4)];
  }));
}

function values(net: SegNet): Map<string, number[]> {
  return new Map(net.description.tensors.map((t) => [t.name, t.values]));
}

describe.each(databaseKinds)("merges through GraphQL (%s)", (kind) => {
  let server: TestServer;
  let taskId: string;
  const nets: Record<string, SegNet> = {};
  const ids: Record<string, string> = {};

  const registerBytes = async (name: string, bytes: Uint8Array) => {
    const { body } = await upload(server.origin, bytes);
    const { registerModel } = await server.ok(REGISTER, { i: { name, taskId, artifactSha256: body.sha256 } });
    ids[name] = registerModel.id;
    return registerModel.id as string;
  };
  const download = async (sha: string) => new Uint8Array(await (await fetch(`${server.origin}/artifacts/${sha}`)).arrayBuffer());

  beforeAll(async () => {
    server = await startTestServer(kind);
    taskId = (await seedBasics(server)).task.id;
    for (const [name, options] of [
      ["a1", { seed: 1 }], ["a2", { seed: 2 }], ["a3", { seed: 3 }], ["base", { seed: 10 }], ["b", { heads: "B" as const, seed: 4 }],
    ] as const) {
      nets[name] = buildSegNet(options);
      await registerBytes(name, nets[name].bytes);
    }
  });
  afterAll(() => server.stop());

  /*
   * LINEAR schedule, N = 3 models, L = 4 layers (stem conv 0, layer1 conv 1, gamma 2, conv_seg 3):
   *   t = l/3; w_a = 1/3 + (2/3)·t  →  1/3, 5/9, 7/9, 1;  each contributor (1 − w_a)/2 → 1/3, 2/9, 1/9, 0.
   */
  const wa = [1 / 3, 5 / 9, 7 / 9, 1];
  const layerOf: Record<string, number> = {
    "backbone.stem.conv.weight": 0, "backbone.stem.conv.bias": 0, "backbone.layer1.conv.weight": 1, "backbone.layer1.conv.bias": 1,
    "backbone.layer1.gamma": 2, "decode_head.conv_seg.weight": 3, "decode_head.conv_seg.bias": 3,
  };
  const elements: Record<string, number> = {
    "backbone.stem.conv.weight": 216, "backbone.stem.conv.bias": 8, "backbone.layer1.conv.weight": 576, "backbone.layer1.conv.bias": 8,
    "backbone.layer1.gamma": 8, "decode_head.conv_seg.weight": 32, "decode_head.conv_seg.bias": 4,
  };

  test("mergePlan previews per-layer weights, counts and size without writing anything", async () => {
    const { mergePlan } = await server.ok(
      `query($i: StartMergeInput!) { mergePlan(input: $i) { method schedule { kind } layerCount layers { index weights mergedTensors }
          inputs { model { name } role meanWeight } mergedTensorCount copiedTensorCount expectedOutputBytes tensors { name action sharedBy } } }`,
      { i: { anchorId: ids.a1, modelIds: [ids.a2, ids.a3] } },
    );
    expect(mergePlan.method).toBe("LAYERWISE");
    expect(mergePlan.schedule.kind).toBe("LINEAR");
    expect(mergePlan.layerCount).toBe(4);
    mergePlan.layers.forEach((layer: { index: number; weights: number[] }, i: number) => {
      expect(layer.index).toBe(i);
      expect(layer.weights[0]).toBeCloseTo(wa[i], 12);
      expect(layer.weights[1]).toBeCloseTo((1 - wa[i]) / 2, 12);
      expect(layer.weights[2]).toBeCloseTo((1 - wa[i]) / 2, 12);
    });
    expect(mergePlan.mergedTensorCount).toBe(7);
    expect(mergePlan.copiedTensorCount).toBe(0);
    expect(mergePlan.expectedOutputBytes).toBe(852 * 4);
    // Mean anchor weight over merged tensors, by elements: (224·1/3 + 584·5/9 + 8·7/9 + 36·1) / 852.
    const meanAnchor = (224 / 3 + (584 * 5) / 9 + (8 * 7) / 9 + 36) / 852;
    expect(mergePlan.inputs[0]).toMatchObject({ role: "ANCHOR", model: { name: "a1" } });
    expect(mergePlan.inputs[0].meanWeight).toBeCloseTo(meanAnchor, 12);
    expect(mergePlan.inputs[1].meanWeight).toBeCloseTo((1 - meanAnchor) / 2, 12);
    expect(await server.app.services.database.prisma.merge.count()).toBe(0);
  });

  test("a LAYERWISE merge runs as a job, matches an independent float64 computation, loads in onnxruntime, and records lineage and recipe", async () => {
    const start = await server.ok(START, { i: { anchorId: ids.a1, modelIds: [ids.a2, ids.a3], output: { name: "soup-linear", tags: ["merged"] } } });
    expect(["QUEUED", "RUNNING", "SUCCEEDED"]).toContain(start.startMerge.status);
    const job = await waitForJob(server, start.startMerge.id);
    expect(job).toMatchObject({ status: "SUCCEEDED", progress: 1, model: { name: "soup-linear", origin: "MERGED" } });
    expect(job.message).toMatch(/merged 7 tensors \(0 copied\) into soup-linear@1/);

    const { model } = await server.ok(
      `query($id: ID!) { model(id: $id) { name tags artifact { sha256 format } task { key }
          parentEdges { relation weight parent { name } }
          merge { method schedule { kind } recipeHash anchor { name } inputs { role position meanWeight model { name } } layers { index weights } job { id } } } }`,
      { id: job.model.id },
    );
    expect(model.tags).toEqual(["merged"]);
    expect(model.merge.method).toBe("LAYERWISE");
    expect(model.merge.anchor.name).toBe("a1");
    expect(model.merge.inputs.map((i: any) => [i.role, i.model.name])).toEqual([["ANCHOR", "a1"], ["CONTRIBUTOR", "a2"], ["CONTRIBUTOR", "a3"]]);
    expect(model.merge.layers[1].weights[0]).toBeCloseTo(5 / 9, 12);
    expect(model.merge.job.id).toBe(job.id);
    const meanAnchor = (224 / 3 + (584 * 5) / 9 + (8 * 7) / 9 + 36) / 852;
    const edges = Object.fromEntries(model.parentEdges.map((e: any) => [e.parent.name, e]));
    expect(edges.a1.relation).toBe("MERGED_FROM");
    expect(edges.a1.weight).toBeCloseTo(meanAnchor, 10);
    expect(edges.a2.weight).toBeCloseTo((1 - meanAnchor) / 2, 10);

    // The merge hashes its output while writing it: the stored bytes, hashed again here, agree.
    const stored = await download(model.artifact.sha256);
    expect(createHash("sha256").update(stored).digest("hex")).toBe(model.artifact.sha256);
    // θ = Σ_k w_k θ_k per layer, in float64 from the builders' own values, rounded to float32.
    const out = onnxValues(stored);
    const [v1, v2, v3] = [values(nets.a1), values(nets.a2), values(nets.a3)];
    for (const [name, layer] of Object.entries(layerOf)) {
      const got = out.get(name)!;
      expect(got.length).toBe(elements[name]);
      const w = wa[layer];
      for (let i = 0; i < got.length; i++) {
        const expected = w * v1.get(name)![i] + ((1 - w) / 2) * (v2.get(name)![i] + v3.get(name)![i]);
        expect(Math.abs(got[i] - expected)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(expected)));
      }
    }
    const image = Float32Array.from({ length: 3 * 16 * 16 }, (_, i) => Math.sin(i));
    const result = runOnnx(await download(model.artifact.sha256), "image", image, [1, 3, 16, 16]);
    expect(result.logits.dims).toEqual([1, 4, 16, 16]);
    expect(result.logits.data.every((x) => Number.isFinite(x))).toBe(true);
  });

  test("re-running an identical merge returns the existing model, whatever output name it asks for", async () => {
    const first = await server.ok(`{ models(where: { nameContains: "soup-linear" }) { edges { node { id } } } }`);
    const again = await server.ok(START, { i: { anchorId: ids.a1, modelIds: [ids.a2, ids.a3], output: { name: "another-name" } } });
    const job = await waitForJob(server, again.startMerge.id);
    expect(job.status).toBe("SUCCEEDED");
    expect(job.model.id).toBe(first.models.edges[0].node.id);
    // The existing model keeps its name; the job says it was reused and that the asked name was not made.
    expect(job.model.name).toBe("soup-linear");
    expect(job.message).toMatch(/identical merge already exists: soup-linear@1 .*; the requested another-name@1 was not created$/);
    const reused = async (id: string) => (await server.ok(`query($id: ID!) { job(id: $id) { reused } }`, { id })).job.reused;
    expect(await reused(again.startMerge.id)).toBe(true);
    const { jobs } = await server.ok(`{ jobs(kind: MERGE, status: [SUCCEEDED]) { edges { node { id reused model { name } } } } }`);
    expect(jobs.edges.find((e: any) => e.node.model.name === "soup-linear" && e.node.id !== again.startMerge.id).node.reused).toBe(false);
    const { models } = await server.ok(`{ models(where: { nameContains: "another-name" }) { totalCount } }`);
    expect(models.totalCount).toBe(0);
    // Asked without a name, the same recipe says nothing about names: there was none to refuse.
    const unnamed = await waitForJob(server, (await server.ok(START, { i: { anchorId: ids.a1, modelIds: [ids.a2, ids.a3] } })).startMerge.id);
    expect(unnamed.message).toMatch(/returning it instead of a duplicate$/);
    expect(await reused(unnamed.id)).toBe(true);
  });

  test("an unnamed merge is called <anchor>-<method>-<schedule>-<first 8 hex digits of its recipe hash>", async () => {
    for (const [method, schedule, extra] of [["LAYERWISE", "UNIFORM", {}], ["TASK_ARITHMETIC", "COSINE", { baseModelId: ids.base }]] as const) {
      const start = await server.ok(START, { i: { anchorId: ids.a2, modelIds: [ids.a3], method, schedule: { kind: schedule }, ...extra } });
      const job = await waitForJob(server, start.startMerge.id);
      expect(job.status).toBe("SUCCEEDED");
      const { model } = await server.ok(`query($id: ID!) { model(id: $id) { name merge { recipeHash } } }`, { id: job.model.id });
      expect(model.merge.recipeHash).toMatch(/^[0-9a-f]{64}$/);
      expect(model.name).toBe(`a2-${method.toLowerCase()}-${schedule.toLowerCase()}-${model.merge.recipeHash.slice(0, 8)}`);
    }
  });

  test("cross-architecture: anchor with head B, contributors with head A — only shared tensors merge, B's own head is copied", async () => {
    const start = await server.ok(START, { i: { anchorId: ids.b, modelIds: [ids.a1], schedule: { kind: "UNIFORM" }, output: { name: "cross-arch" } } });
    const job = await waitForJob(server, start.startMerge.id);
    expect(job.status).toBe("SUCCEEDED");
    const { model } = await server.ok(`query($id: ID!) { model(id: $id) { artifact { sha256 } } }`, { id: job.model.id });
    const out = onnxValues(await download(model.artifact.sha256));
    const vb = values(nets.b);
    const va = values(nets.a1);
    // UNIFORM with N = 2: θ = (θ_b + θ_a)/2 for the 5 backbone tensors and conv_seg.bias ([4] in both).
    for (const name of ["backbone.stem.conv.weight", "backbone.layer1.gamma", "decode_head.conv_seg.bias"]) {
      const got = out.get(name)!;
      for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo((vb.get(name)![i] + va.get(name)![i]) / 2, 6);
    }
    // B's own head: conv1 (only in B) and conv_seg.weight ([4,16,1,1] vs A's [4,8,1,1]) are B's, bit for bit.
    for (const name of ["decode_head.conv1.weight", "decode_head.conv1.bias", "decode_head.conv_seg.weight"]) {
      expect(Array.from(out.get(name)!)).toEqual(vb.get(name)!.map((x) => Math.fround(x)));
    }
    const result = runOnnx(await download(model.artifact.sha256), "image", new Float32Array(3 * 16 * 16).fill(0.5), [1, 3, 16, 16]);
    expect(result.logits.dims).toEqual([1, 4, 16, 16]);
  });

  test("TASK_ARITHMETIC with a base: θ = θ_base + λ Σ w_k (θ_k − θ_base)", async () => {
    const start = await server.ok(START, {
      i: { anchorId: ids.a1, modelIds: [ids.a2], method: "TASK_ARITHMETIC", baseModelId: ids.base, schedule: { kind: "UNIFORM" }, params: { lambda: 0.8 }, output: { name: "ta" } },
    });
    const job = await waitForJob(server, start.startMerge.id);
    expect(job.status).toBe("SUCCEEDED");
    const { model } = await server.ok(`query($id: ID!) { model(id: $id) { artifact { sha256 } merge { params inputs { role model { name } } } } }`, { id: job.model.id });
    expect(model.merge.params).toMatchObject({ lambda: 0.8 });
    expect(model.merge.inputs.map((i: any) => i.role)).toEqual(["ANCHOR", "CONTRIBUTOR", "BASE"]);
    const out = onnxValues(await download(model.artifact.sha256));
    const [v1, v2, vb] = [values(nets.a1), values(nets.a2), values(nets.base)];
    const name = "backbone.layer1.conv.weight";
    out.get(name)!.forEach((got, i) => {
      const base = vb.get(name)![i];
      const expected = base + 0.8 * (0.5 * (v1.get(name)![i] - base) + 0.5 * (v2.get(name)![i] - base));
      expect(got).toBeCloseTo(expected, 5);
    });
  });

  test("cross-task: a semantic model merged into a panoptic anchor (safetensors) merges only the backbone and keeps the anchor's header", async () => {
    const f32 = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);
    const backbone = (offset: number) => [
      { name: "backbone.conv.weight", dtype: "F32", shape: [2, 2], data: f32([1 + offset, 2 + offset, 3 + offset, 4 + offset]) },
      { name: "backbone.conv.bias", dtype: "F32", shape: [2], data: f32([offset, -offset]) },
    ];
    const panoptic = writeSafetensors(
      [...backbone(0), { name: "sem_head.weight", dtype: "F32", shape: [3, 2], data: f32([1, 1, 1, 1, 1, 1]) }, { name: "center_head.weight", dtype: "F32", shape: [1, 2], data: f32([5, 6]) }],
      { metadata: { task: "panoptic" } },
    );
    const semantic = writeSafetensors([...backbone(10), { name: "decode_head.weight", dtype: "F32", shape: [3, 2], data: f32([9, 9, 9, 9, 9, 9]) }]);
    await registerBytes("panoptic", panoptic);
    await registerBytes("semantic", semantic);
    const start = await server.ok(START, { i: { anchorId: ids.panoptic, modelIds: [ids.semantic], schedule: { kind: "UNIFORM" }, output: { name: "pano-merged" } } });
    const job = await waitForJob(server, start.startMerge.id);
    expect(job.status).toBe("SUCCEEDED");
    expect(job.message).toMatch(/merged 2 tensors \(2 copied\)/);
    const { model } = await server.ok(`query($id: ID!) { model(id: $id) { artifact { sha256 format } } }`, { id: job.model.id });
    expect(model.artifact.format).toBe("safetensors");
    const bytes = await download(model.artifact.sha256);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(model.artifact.sha256);
    const parsed = parseSafetensors(bufferSource(bytes));
    expect(parsed.tensors.map((t) => t.name)).toEqual(parseSafetensors(bufferSource(panoptic)).tensors.map((t) => t.name));
    expect((parsed.metadata as any).__metadata__).toMatchObject({ task: "panoptic", "layermerge.method": "LAYERWISE" });
    const read = (name: string) => {
      const t = parsed.tensors.find((x) => x.name === name)!;
      const loc = t.location as { offset: number; length: number };
      return Array.from(new Float32Array(bytes.slice(loc.offset, loc.offset + loc.length).buffer));
    };
    // UNIFORM, N = 2: (θ_pano + θ_sem)/2: weight [1,2,3,4] & [11,12,13,14] → [6,7,8,9]; bias [0,0] & [10,-10] → [5,-5].
    expect(read("backbone.conv.weight")).toEqual([6, 7, 8, 9]);
    expect(read("backbone.conv.bias")).toEqual([5, -5]);
    expect(read("sem_head.weight")).toEqual([1, 1, 1, 1, 1, 1]);
    expect(read("center_head.weight")).toEqual([5, 6]);
  });

  test("the schedule follows the anchor's layer order as registered (safetensors given a layerOrder), not the file's", async () => {
    const f32 = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);
    const model = (a: number, b: number) => writeSafetensors([
      { name: "a.weight", dtype: "F32", shape: [2], data: f32([a, a]) },
      { name: "b.weight", dtype: "F32", shape: [2], data: f32([b, b]) },
    ]);
    const { body } = await upload(server.origin, model(1, 2));
    const { registerModel } = await server.ok(REGISTER, { i: { name: "reordered", taskId, artifactSha256: body.sha256, layerOrder: ["b", "a"] } });
    await registerBytes("in-file-order", model(3, 6));
    const start = await server.ok(START, { i: { anchorId: registerModel.id, modelIds: [ids["in-file-order"]], output: { name: "reordered-merged" } } });
    const job = await waitForJob(server, start.startMerge.id);
    expect(job.status).toBe("SUCCEEDED");
    const { model: merged } = await server.ok(`query($id: ID!) { model(id: $id) { artifact { sha256 } merge { layers { index weights } } } }`, { id: job.model.id });
    // LINEAR, N = 2, L = 2: w_a = 1/2 at layer 0 ("b", as registered), 1 at layer 1 ("a").
    expect(merged.merge.layers).toEqual([{ index: 0, weights: [0.5, 0.5] }, { index: 1, weights: [1, 0] }]);
    const bytes = await download(merged.artifact.sha256);
    const parsed = parseSafetensors(bufferSource(bytes));
    const read = (name: string) => {
      const loc = parsed.tensors.find((x) => x.name === name)!.location as { offset: number; length: number };
      return Array.from(new Float32Array(bytes.slice(loc.offset, loc.offset + loc.length).buffer));
    };
    expect(read("b.weight")).toEqual([4, 4]); // 0.5·2 + 0.5·6
    expect(read("a.weight")).toEqual([1, 1]); // 1·1 + 0·3

    // The same bytes registered again without a layer order share the artifact (and the layout it
    // recorded first) but not the structure: their merge follows file order.
    const again = await server.ok(REGISTER, { i: { name: "file-order", taskId, artifactSha256: body.sha256 } });
    const second = await waitForJob(server, (await server.ok(START, { i: { anchorId: again.registerModel.id, modelIds: [ids["in-file-order"]], output: { name: "file-order-merged" } } })).startMerge.id);
    expect(second.status).toBe("SUCCEEDED");
    const { model: merged2 } = await server.ok(`query($id: ID!) { model(id: $id) { artifact { sha256 } } }`, { id: second.model.id });
    const bytes2 = await download(merged2.artifact.sha256);
    const read2 = (name: string) => {
      const loc = parseSafetensors(bufferSource(bytes2)).tensors.find((x) => x.name === name)!.location as { offset: number; length: number };
      return Array.from(new Float32Array(bytes2.slice(loc.offset, loc.offset + loc.length).buffer));
    };
    expect(read2("a.weight")).toEqual([2, 2]); // layer 0: 0.5·1 + 0.5·3
    expect(read2("b.weight")).toEqual([2, 2]); // layer 1: 1·2 + 0·6
  });

  test("bad merge requests are refused up front with BAD_USER_INPUT", async () => {
    const unrelated = writeSafetensors([{ name: "other.weight", dtype: "F32", shape: [3, 3] }]);
    await registerBytes("unrelated", unrelated);
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ anchorId: "nope", modelIds: [ids.a2] }, "input.anchorId", /not a live model/],
      [{ anchorId: ids.a1, modelIds: [ids.a1] }, "input.modelIds", /anchor/],
      [{ anchorId: ids.a1, modelIds: [] }, "input.modelIds", /at least one/],
      [{ anchorId: ids.a1, modelIds: [ids.unrelated] }, "input.modelIds", /share/i],
      [{ anchorId: ids.a1, modelIds: [ids.a2], method: "TIES" }, "input.baseModelId", /base/],
      [{ anchorId: ids.a1, modelIds: [ids.a2], weights: [1, 2] }, "input.weights", /weight/],
      [{ anchorId: ids.a1, modelIds: [ids.a2], schedule: { kind: "STEP", cutoff: 2 } }, "input.schedule.cutoff", /cutoff/],
    ];
    for (const [input, field, message] of cases) {
      const result = await server.gql(START, { i: input });
      expect({ input, code: result.errors?.[0].extensions?.code }).toEqual({ input, code: "BAD_USER_INPUT" });
      expect(result.errors?.[0].extensions?.field).toBe(field);
      expect(result.errors?.[0].message).toMatch(message);
    }
    const taken = await server.gql(START, { i: { anchorId: ids.a2, modelIds: [ids.a3], output: { name: "a1" } } });
    expect(taken.errors?.[0].extensions?.code).toBe("CONFLICT");
  });

  test("a NaN in an input fails the job naming model and tensor, leaving no model", async () => {
    const f32 = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);
    await registerBytes("clean", writeSafetensors([{ name: "enc.weight", dtype: "F32", shape: [2], data: f32([1, 2]) }]));
    await registerBytes("poisoned", writeSafetensors([{ name: "enc.weight", dtype: "F32", shape: [2], data: f32([1, NaN]) }]));
    const before = await server.app.services.database.prisma.model.count();
    const start = await server.ok(START, { i: { anchorId: ids.clean, modelIds: [ids.poisoned] } });
    const job = await waitForJob(server, start.startMerge.id);
    expect(job.status).toBe("FAILED");
    expect(job.errorCode).toBe("BAD_USER_INPUT");
    expect(job.error).toMatch(/poisoned@1/);
    expect(job.error).toMatch(/enc\.weight/);
    expect(job.model).toBeNull();
    expect(await server.app.services.database.prisma.model.count()).toBe(before);
  });

  test("cancelling a running merge leaves no artifact and no model; a queued one never starts", async () => {
    // Big enough to run for a while: 3 × 48 MiB of F32.
    const big = (seed: number) => {
      const n = 12 << 20;
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = ((i * 2654435761 + seed) % 1000) / 1000;
      return writeSafetensors([{ name: "big.weight", dtype: "F32", shape: [n], data: new Uint8Array(data.buffer) }]);
    };
    await registerBytes("big1", big(1));
    await registerBytes("big2", big(2));
    await registerBytes("big3", big(3));
    const prisma = server.app.services.database.prisma;
    const artifactsBefore = await prisma.artifact.count();
    const modelsBefore = await prisma.model.count();
    const running = await server.ok(START, { i: { anchorId: ids.big1, modelIds: [ids.big2, ids.big3], output: { name: "big-merge" } } });
    const queued = await server.ok(START, { i: { anchorId: ids.big2, modelIds: [ids.big1, ids.big3], output: { name: "big-merge-2" } } });
    for (;;) {
      const { job } = await server.ok(`query($id: ID!) { job(id: $id) { status } }`, { id: running.startMerge.id });
      if (job.status !== "QUEUED") break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const cancelQueued = await server.ok(`mutation($id: ID!) { cancelJob(id: $id) { status } }`, { id: queued.startMerge.id });
    expect(cancelQueued.cancelJob.status).toBe("CANCELLED");
    await server.ok(`mutation($id: ID!) { cancelJob(id: $id) { id } }`, { id: running.startMerge.id });
    const job = await waitForJob(server, running.startMerge.id);
    // It either was stopped, or (on a very fast machine) had already finished.
    if (job.status === "CANCELLED") {
      expect(await prisma.model.count()).toBe(modelsBefore);
      expect(await prisma.artifact.count()).toBe(artifactsBefore);
    } else {
      expect(job.status).toBe("SUCCEEDED");
    }
    expect((await waitForJob(server, queued.startMerge.id)).status).toBe("CANCELLED");
    expect(await prisma.model.count({ where: { name: "big-merge-2" } })).toBe(0);
  });
});
