import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { upload } from "./support/http";
import { waitForJob } from "./support/jobs";
import { parseModelFile } from "../src/core/formats/parseModelFile";
import { FileByteSource } from "../src/core/formats/byteSource";
import { writeSafetensors } from "../src/core/formats/safetensors/testing/writeSafetensors";

/*
 * Checkpoints (safetensors and PyTorch .pth) evaluated through a graph model, end to end: values from
 * src/core/graphWeights/fixtures/make_checkpoint_fixtures.py (PyTorch's eval-mode logits, the
 * mIoU numpy computed from them) and from the unfused ONNX exports of the same weights.
 */
const FIXTURES = path.join(__dirname, "..", "src", "core", "graphWeights", "fixtures");
const expected = JSON.parse(fs.readFileSync(path.join(FIXTURES, "expected.json"), "utf8")) as { size: number; mean: number[]; std: number[]; miou: number };
const CONTRACT = {
  inputName: "image", width: expected.size, height: expected.size, resize: { mode: "FIXED" }, channelOrder: "RGB",
  mean: expected.mean, std: expected.std, normalization: "DIVIDE", outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" }],
};
const CLASSES = [0, 1, 2].map((id) => ({ id, name: `c${id}`, isThing: false }));

describe.each(databaseKinds)("checkpoints evaluated through a graph model (%s)", (kind) => {
  let server: TestServer;
  let root: string;
  let taskId: string;
  let datasetId: string;
  const ids: Record<string, string> = {};

  const register = async (name: string, file: string, extra: Record<string, unknown> = {}) => {
    const { body } = await upload(server.origin, fs.readFileSync(path.join(FIXTURES, file)));
    return server.gql(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id graphModelId graphModel { name } } }`, { i: { name, taskId, artifactSha256: body.sha256, ...extra } });
  };
  const registered = async (name: string, file: string, extra: Record<string, unknown> = {}) => {
    const result = await register(name, file, extra);
    expect(result.errors).toBeUndefined();
    return (ids[name] = result.data!.registerModel.id as string);
  };
  const evaluate = async (modelId: string) => {
    const started = await server.gql(`mutation($i: StartEvaluationInput!) { startEvaluation(input: $i) { id } }`, { i: { modelId, datasetId } });
    if (started.errors) return { errors: started.errors, job: null };
    await waitForJob(server, started.data!.startEvaluation.id);
    const { job } = await server.ok(`query($id: ID!) { job(id: $id) { status message error errorCode evaluation { score settings perClass { classId iou } } } }`, { id: started.data!.startEvaluation.id });
    return { errors: undefined, job };
  };
  const merge = async (anchorId: string, modelIds: string[], name: string) => {
    const { startMerge } = await server.ok(`mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, { i: { anchorId, modelIds, output: { name } } });
    await waitForJob(server, startMerge.id);
    const { job } = await server.ok(`query($id: ID!) { job(id: $id) { status error model { id graphModelId artifact { format } } } }`, { id: startMerge.id });
    expect(job.error).toBeNull();
    return job.model as { id: string; graphModelId: string | null; artifact: { format: string } };
  };

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "lm-ckeval-"));
    fs.cpSync(path.join(FIXTURES, "dataset"), path.join(root, "segnet"), { recursive: true });
    server = await startTestServer(kind, { LAYERMERGE_DATASET_ROOTS: root });
    taskId = (await server.ok(`mutation { createTask(input: { key: "sem", name: "Semantic", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    const { createDataset } = await server.ok(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, { i: { name: "segnet", taskId, format: "SEMANTIC_PNG", location: path.join(root, "segnet"), classes: CLASSES } });
    datasetId = createDataset.id;
    await registered("a-folded", "segnet_a.folded.onnx", { inference: CONTRACT });
    await registered("a-unfused", "segnet_a.unfused.onnx", { inference: CONTRACT });
    await registered("b-unfused", "segnet_b.unfused.onnx", { inference: CONTRACT });
    await registered("wide-folded", "segnet_wide.folded.onnx", { inference: { ...CONTRACT, outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" }] } });
  });
  afterAll(async () => {
    await server.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  test("a safetensors checkpoint evaluated through its folded export scores the mIoU of PyTorch's eval-mode logits", async () => {
    const id = await registered("a-checkpoint", "segnet_a.safetensors", { graphModelId: ids["a-folded"] });
    const { job } = await evaluate(id);
    expect(job.error).toBeNull();
    expect(job.status).toBe("SUCCEEDED");
    expect(job.evaluation.score).toBeCloseTo(expected.miou, 12);
    expect(job.message).toContain("2 Conv + BatchNorm pairs folded");
    // The graph's own evaluation is the same net: the same score (and the mapping was not a no-op, see test/checkpointGraph.test.ts).
    expect((await evaluate(ids["a-folded"])).job.evaluation.score).toBeCloseTo(expected.miou, 12);
  });

  test("a checkpoint × checkpoint merge inherits the anchor's graph and scores as the same merge of the unfused ONNX exports", async () => {
    const b = await registered("b-checkpoint", "segnet_b.safetensors", { graphModelId: ids["a-folded"] });
    const merged = await merge(ids["a-checkpoint"], [b], "ab-checkpoints");
    expect(merged.artifact.format).toBe("safetensors");
    expect(merged.graphModelId).toBe(ids["a-folded"]);
    const onnxMerged = await merge(ids["a-unfused"], [ids["b-unfused"]], "ab-unfused");
    expect(onnxMerged.artifact.format).toBe("onnx");
    const viaGraph = (await evaluate(merged.id)).job;
    const viaOnnx = (await evaluate(onnxMerged.id)).job;
    expect(viaGraph.error).toBeNull();
    expect(viaOnnx.error).toBeNull();
    expect(viaGraph.evaluation.score).toBeCloseTo(viaOnnx.evaluation.score, 12);
    expect(viaGraph.evaluation.perClass).toEqual(viaOnnx.evaluation.perClass);
    // A merge is another model: its score differs from the anchor's.
    expect(Math.abs(viaGraph.evaluation.score - expected.miou)).toBeGreaterThan(1e-6);
    // and it ranks among the others on the leaderboard
    const { leaderboard } = await server.ok(`query($d: ID!) { leaderboard(datasetId: $d) { edges { node { model { id } score } } } }`, { d: datasetId });
    expect(leaderboard.edges.map((e: { node: { model: { id: string } } }) => e.node.model.id)).toContain(merged.id);
  });

  test("PyTorch checkpoints (zip, legacy, DDP-prefixed in mmseg's layout) through the folded export score the mIoU of PyTorch's eval-mode logits", async () => {
    for (const file of ["segnet_a.pth", "segnet_a_legacy.pth"]) {
      const { job } = await evaluate(await registered(`pth-${file}`, file, { graphModelId: ids["a-folded"] }));
      expect(job.error).toBeNull();
      expect(job.message).toContain("2 Conv + BatchNorm pairs folded");
      expect(job.evaluation.score).toBeCloseTo(expected.miou, 12);
    }
    // b's checkpoint under "state_dict" with "module." names: through a's folded graph it runs as b's own unfused export
    const { job } = await evaluate(await registered("b-pth", "segnet_b_ddp.pth", { graphModelId: ids["a-folded"] }));
    expect(job.error).toBeNull();
    const own = (await evaluate(ids["b-unfused"])).job;
    expect(job.evaluation.score).toBeCloseTo(own.evaluation.score, 12);
    expect(job.evaluation.perClass).toEqual(own.evaluation.perClass);
    expect(Math.abs(own.evaluation.score - expected.miou)).toBeGreaterThan(1e-6);
  });

  test("a .pth × .pth merge writes safetensors, inherits the graph and scores as the same merge of the unfused ONNX exports", async () => {
    const merged = await merge(ids["pth-segnet_a.pth"], [ids["b-pth"]], "ab-pth");
    expect(merged.artifact.format).toBe("safetensors");
    expect(merged.graphModelId).toBe(ids["a-folded"]);
    const onnxMerged = await merge(ids["a-unfused"], [ids["b-unfused"]], "ab-unfused-for-pth");
    const viaGraph = (await evaluate(merged.id)).job;
    const viaOnnx = (await evaluate(onnxMerged.id)).job;
    expect(viaGraph.error).toBeNull();
    expect(viaOnnx.error).toBeNull();
    expect(viaGraph.evaluation.score).toBeCloseTo(viaOnnx.evaluation.score, 12);
    expect(viaGraph.evaluation.perClass).toEqual(viaOnnx.evaluation.perClass);
    expect(Math.abs(viaGraph.evaluation.score - expected.miou)).toBeGreaterThan(1e-6);
  });

  test("an initializer the checkpoint cannot fill is refused naming it", async () => {
    const id = await registered("a-in-wide", "segnet_a.safetensors", { name: "a-in-wide", graphModelId: ids["wide-folded"] });
    const { job } = await evaluate(id);
    expect(job.status).toBe("FAILED");
    expect(job.errorCode).toBe("BAD_USER_INPUT");
    expect(job.error).toContain('graph initializer "head.weight" is F32 [5, 6, 1, 1] but the checkpoint\'s "head.weight" is F32 [3, 6, 1, 1]');
  });

  test("a checkpoint without graphModelId is refused when evaluated, saying what to set", async () => {
    const id = await registered("b-alone", "segnet_b.safetensors");
    const { errors } = await evaluate(id);
    expect(errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(errors?.[0].message).toMatch(/b-alone@1 is a safetensors checkpoint and has no graph to run: set graphModelId/);
    // updateModel sets it, and then it evaluates (b's own unfused export is the reference)
    const { updateModel } = await server.ok(`mutation($id: ID!, $g: ID) { updateModel(id: $id, input: { graphModelId: $g }) { graphModelId } }`, { id, g: ids["a-folded"] });
    expect(updateModel.graphModelId).toBe(ids["a-folded"]);
    const viaGraph = (await evaluate(id)).job;
    expect(viaGraph.evaluation.score).toBeCloseTo((await evaluate(ids["b-unfused"])).job.evaluation.score, 12);
    // null clears it
    const cleared = await server.ok(`mutation($id: ID!) { updateModel(id: $id, input: { graphModelId: null }) { graphModelId } }`, { id });
    expect(cleared.updateModel.graphModelId).toBeNull();
  });

  test("mapping by position follows the checkpoint's registered order: a given layerOrder repairs a file stored out of forward order", async () => {
    // segnet_a's tensors stored conv2, bn2, conv1, bn1, head: in that order conv2's folded weight
    // comes before conv1's, so the graph's third parameter finds nothing after conv1's pair.
    const file = path.join(FIXTURES, "segnet_a.safetensors");
    const parsed = parseModelFile(file);
    const source = new FileByteSource(file);
    const bytesOf = (name: string) => {
      const t = parsed.tensors.find((x) => x.name === name)!;
      return { name, dtype: t.dtype, shape: t.shape, data: Uint8Array.from(source.read((t.location as { offset: number }).offset, (t.location as { length: number }).length)) };
    };
    const order = ["conv2", "bn2", "conv1", "bn1", "head"];
    const names = order.flatMap((m) => parsed.tensors.filter((t) => t.name.startsWith(`${m}.`)).map((t) => t.name));
    const shuffled = writeSafetensors(names.map(bytesOf));
    source.close();
    const { body } = await upload(server.origin, shuffled);
    const registerShuffled = (name: string, layerOrder?: string[]) =>
      server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name, taskId, artifactSha256: body.sha256, graphModelId: ids["a-folded"], layerOrder } });

    const asStored = (await registerShuffled("a-shuffled")).registerModel.id;
    const refused = (await evaluate(asStored)).job;
    expect(refused.status).toBe("FAILED");
    expect(refused.error).toMatch(/graph initializer "onnx::Conv_27" \(F32 \[6, 6, 3, 3\], parameter 3 of the graph, read by Conv\) cannot be mapped/);

    const given = (await registerShuffled("a-shuffled-ordered", ["conv1", "bn1", "conv2", "bn2", "head"])).registerModel.id;
    const { job } = await evaluate(given);
    expect(job.error).toBeNull();
    expect(job.evaluation.score).toBeCloseTo(expected.miou, 12);
  });

  test("graphModelId must name a live ONNX model of the same task", async () => {
    const other = (await server.ok(`mutation { createTask(input: { key: "other", name: "Other", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    const { body } = await upload(server.origin, fs.readFileSync(path.join(FIXTURES, "segnet_a.folded.onnx")));
    const { registerModel } = await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: "other-task-graph", taskId: other, artifactSha256: body.sha256 } });
    const cases: Array<[string, RegExp]> = [
      [ids["a-checkpoint"], /a-checkpoint@1 is safetensors; a graph model must be an ONNX model/],
      [registerModel.id, /other-task-graph@1 is a model of task other; a graph model must have the same task/],
      ["nope", /input\.graphModelId "nope" is not a live model/],
    ];
    for (const [graphModelId, message] of cases) {
      const result = await register(`bad-${graphModelId}`, "segnet_b.safetensors", { graphModelId });
      expect(result.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
      expect(result.errors?.[0].extensions?.field).toBe("input.graphModelId");
      expect(result.errors?.[0].message).toMatch(message);
      const update = await server.gql(`mutation($id: ID!, $g: ID) { updateModel(id: $id, input: { graphModelId: $g }) { id } }`, { id: ids["b-alone"], g: graphModelId });
      expect(update.errors?.[0].message).toMatch(message);
    }
    // nothing was written
    const { models } = await server.ok(`{ models(where: { nameContains: "bad-" }) { totalCount } }`);
    expect(models.totalCount).toBe(0);
  });

  test("a graph model is not deleted while live checkpoints run through it", async () => {
    const graph = await registered("c-folded", "segnet_a.folded.onnx", { inference: CONTRACT });
    const checkpoint = await registered("c-checkpoint", "segnet_a.safetensors", { graphModelId: graph });
    const refused = await server.gql(`mutation($id: ID!) { deleteModel(id: $id) { id } }`, { id: graph });
    expect(refused.errors?.[0].extensions?.code).toBe("CONFLICT");
    expect(refused.errors?.[0].message).toBe("model c-folded@1 is the graph model of c-checkpoint@1; give them another graphModelId or delete them first");
    await server.ok(`mutation($id: ID!) { deleteModel(id: $id) { id } }`, { id: checkpoint });
    await server.ok(`mutation($id: ID!) { deleteModel(id: $id) { id } }`, { id: graph });
  });
});
