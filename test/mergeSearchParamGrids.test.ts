import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { upload } from "./support/http";
import { waitForJob } from "./support/jobs";
import { writeOnnxModel } from "../src/core/formats/onnx/testing/onnxModelWriter";
import { blocks, twoLayerNet } from "./support/searchFixtures";

const CLASSES = [
  { id: 0, name: "red", isThing: false },
  { id: 1, name: "green", isThing: false },
  { id: 2, name: "blue", isThing: true },
];
const CONTRACT = { inputName: "image", width: 4, height: 4, resize: { mode: "FIXED" }, channelOrder: "RGB", mean: [120, 120, 120], std: [60, 60, 60], outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" }] };
const SEARCH = `mutation($i: MergeSearchInput!) { startMergeSearch(input: $i) { id } }`;
const RESULT = `query($id: ID!) { job(id: $id) { status error mergeSearch { planned truncated candidates(first: 100) { edges { node { key objective audit isSingle recipe } } } } } }`;

describe.each(databaseKinds)("merge search parameter grids through GraphQL (%s)", (kind) => {
  let server: TestServer;
  let root: string;
  let labelled: string;
  let base: string;
  const pool: string[] = [];

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "lm-search-grid-"));
    server = await startTestServer(kind, { LAYERMERGE_DATASET_ROOTS: root });
    const taskId = (await server.ok(`mutation { createTask(input: { key: "sem", name: "Semantic", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    await blocks(path.join(root, "labelled"));
    labelled = (await server.ok(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, { i: { name: "source", taskId, format: "SEMANTIC_PNG", location: path.join(root, "labelled"), classes: CLASSES } })).createDataset.id;
    const register = async (name: string, seed: number) => {
      const { body } = await upload(server.origin, writeOnnxModel(twoLayerNet(seed)).bytes);
      return (await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name, taskId, artifactSha256: body.sha256, inference: CONTRACT } })).registerModel.id as string;
    };
    for (const seed of [11, 22, 33]) pool.push(await register(`m${seed}`, seed));
    base = await register("pre", 44);
  });
  afterAll(async () => {
    await server.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  test("a TIES density grid is crossed with the schedules, and every candidate's recipe merged for real scores what the search scored", async () => {
    const { startMergeSearch } = await server.ok(SEARCH, {
      i: {
        modelIds: pool, anchorIds: [pool[0]], maxModels: 2, includeSingles: false, methods: ["TIES"], baseModelId: base,
        paramGrids: [{ method: "TIES", parameters: [{ name: "density", values: [0.2, 0.8] }] }],
        schedules: [{ kind: "UNIFORM" }, { kind: "LINEAR" }],
        objective: { kind: "SCORE", datasetId: labelled }, audit: { datasetId: labelled },
      },
    });
    await waitForJob(server, startMergeSearch.id);
    const { job } = await server.ok(RESULT, { id: startMergeSearch.id });
    expect(job.error).toBeNull();
    // 2 pairs anchored by pool[0] × 2 densities × 2 schedules (L = 2: LINEAR is s = (0, 1), not UNIFORM's 0).
    expect(job.mergeSearch.planned).toBe(8);
    const nodes = job.mergeSearch.candidates.edges.map((e: any) => e.node);
    expect(new Set(nodes.map((n: any) => n.key)).size).toBe(8);
    const described = nodes.map((n: any) => `${n.recipe.modelIds[0]} ${n.recipe.params.density} ${n.recipe.schedule.kind}`).sort();
    const expected = [pool[1], pool[2]].flatMap((c) => [0.2, 0.8].flatMap((d) => ["UNIFORM", "LINEAR"].map((s) => `${c} ${d} ${s}`))).sort();
    expect(described).toEqual(expected);

    const artifacts = new Set<string>();
    for (const n of nodes) {
      const r = n.recipe;
      expect(r).toMatchObject({ anchorId: pool[0], method: "TIES", baseModelId: base, weights: null });
      // The recipe as the candidate table gives it is a startMerge input as it stands.
      const { startMerge } = await server.ok(`mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, { i: r });
      const merged = await waitForJob(server, startMerge.id);
      expect(merged.status).toBe("SUCCEEDED");
      const model = (await server.ok(`query($id: ID!) { model(id: $id) { artifact { sha256 } merge { params } } }`, { id: merged.model.id })).model;
      expect(model.merge.params.density).toBe(r.params.density);
      artifacts.add(model.artifact.sha256);
      const { startEvaluation } = await server.ok(`mutation($i: StartEvaluationInput!) { startEvaluation(input: $i) { id } }`, { i: { modelId: merged.model.id, datasetId: labelled } });
      await waitForJob(server, startEvaluation.id);
      const evaluation = (await server.ok(`query($id: ID!) { job(id: $id) { error evaluation { score } } }`, { id: startEvaluation.id })).job;
      expect(evaluation.error).toBeNull();
      expect(Math.abs(evaluation.evaluation.score - n.objective)).toBeLessThanOrEqual(1e-9);
      expect(Math.abs(evaluation.evaluation.score - n.audit)).toBeLessThanOrEqual(1e-9);
    }
    // Each density makes other weights: eight distinct merged files.
    expect(artifacts.size).toBe(8);
  });

  test("grids are checked against the methods and their parameters, naming the field", async () => {
    const bad = async (over: Record<string, unknown>) =>
      (await server.gql(SEARCH, { i: { modelIds: pool, methods: ["TIES"], baseModelId: base, objective: { kind: "SCORE", datasetId: labelled }, ...over } })).errors?.[0]?.extensions;
    const grid = (method: string, name: string, values: number[]) => ({ paramGrids: [{ method, parameters: [{ name, values }] }] });
    expect(await bad(grid("DARE", "dropRate", [0.5]))).toMatchObject({ code: "BAD_USER_INPUT", field: "input.paramGrids.0.method" });
    expect(await bad(grid("TIES", "dropRate", [0.5]))).toMatchObject({ code: "BAD_USER_INPUT", field: "input.paramGrids.0.parameters.0.name" });
    expect(await bad(grid("TIES", "density", [0.5, 0]))).toMatchObject({ code: "BAD_USER_INPUT", field: "input.paramGrids.0.parameters.0.values.1" });
    expect(await bad({ baseModelId: null })).toMatchObject({ code: "BAD_USER_INPUT", field: "input.baseModelId" });
    expect(await bad({ methods: ["LAYERWISE"] })).toMatchObject({ code: "BAD_USER_INPUT", field: "input.baseModelId" });
  });
});
