import * as fs from "node:fs";
import * as path from "node:path";
import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { upload } from "./support/http";
import { waitForJob } from "./support/jobs";

/*
 * SCORE and audit on a panoptic task are PQ, computed as evaluation computes it. The pool is the
 * demo's Panoptic-DeepLab model and a noisy copy of it (test/fixtures/panopticVariant, made by
 * its committed script); every candidate's score is checked against startEvaluation of the same
 * recipe (the single model, or the merge made for real) on the same images.
 */
const DEMO = path.resolve(__dirname, "..", "examples", "demo");
const VARIANT = path.resolve(__dirname, "fixtures", "panopticVariant", "panoptic-variant.onnx");
const manifest = JSON.parse(fs.readFileSync(path.join(DEMO, "manifest.json"), "utf8"));
const LIMIT = 8;

describe.each(databaseKinds)("merge search scored by PQ on a panoptic task (%s)", (kind) => {
  jest.setTimeout(300_000);
  let server: TestServer;
  let val: string;
  const pool: string[] = [];

  beforeAll(async () => {
    server = await startTestServer(kind, { LAYERMERGE_DATASET_ROOTS: path.join(DEMO, "datasets") });
    const taskId = (await server.ok(`mutation { createTask(input: { key: "panoptic", name: "Panoptic", kind: PANOPTIC, primaryMetric: PQ }) { id } }`)).createTask.id;
    const d = manifest.datasets.find((x: any) => x.name === "synth-target-val-panoptic");
    val = (await server.ok(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, { i: { name: d.name, taskId, format: d.format, location: path.join(DEMO, d.folder), classes: d.classes } })).createDataset.id;
    const m = manifest.models.find((x: any) => x.name === "panoptic");
    for (const [name, file] of [["panoptic", path.join(DEMO, m.file)], ["panoptic-variant", VARIANT]]) {
      const { body } = await upload(server.origin, fs.readFileSync(file));
      pool.push((await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name, taskId, artifactSha256: body.sha256, inference: m.inference } })).registerModel.id);
    }
  });
  afterAll(() => server.stop());

  const evaluate = async (modelId: string) => {
    const { startEvaluation } = await server.ok(`mutation($i: StartEvaluationInput!) { startEvaluation(input: $i) { id } }`, { i: { modelId, datasetId: val, limit: LIMIT } });
    await waitForJob(server, startEvaluation.id);
    const job = (await server.ok(`query($id: ID!) { job(id: $id) { error evaluation { score } } }`, { id: startEvaluation.id })).job;
    expect(job.error).toBeNull();
    return job.evaluation.score as number;
  };

  test("SCORE and audit equal startEvaluation's PQ of each single model and of a merge made for real", async () => {
    const { startMergeSearch } = await server.ok(`mutation($i: MergeSearchInput!) { startMergeSearch(input: $i) { id } }`, {
      i: { modelIds: pool, schedules: [{ kind: "UNIFORM" }, { kind: "LINEAR" }], objective: { kind: "SCORE", datasetId: val, limit: LIMIT }, audit: { datasetId: val, limit: LIMIT } },
    });
    await waitForJob(server, startMergeSearch.id);
    const { job } = await server.ok(`query($id: ID!) { job(id: $id) { error mergeSearch { planned candidates(first: 20) { edges { node { objective audit isSingle recipe } } } } } }`, { id: startMergeSearch.id });
    expect(job.error).toBeNull();
    // 2 singles; the pair: UNIFORM is one soup whatever the anchor, LINEAR one per anchor.
    expect(job.mergeSearch.planned).toBe(5);
    const nodes = job.mergeSearch.candidates.edges.map((e: any) => e.node);
    for (const n of nodes) expect(Math.abs(n.objective - n.audit)).toBeLessThanOrEqual(1e-12);

    const singles = nodes.filter((n: any) => n.isSingle);
    for (const s of singles) expect(Math.abs((await evaluate(s.recipe.anchorId)) - s.objective)).toBeLessThanOrEqual(1e-9);
    // The two models predict differently, so PQ tells them apart (the check is not 0 = 0).
    expect(singles[0].objective).not.toBe(singles[1].objective);
    expect(Math.max(...singles.map((s: any) => s.objective))).toBeGreaterThan(0);

    const merge = nodes.find((n: any) => !n.isSingle && n.recipe.schedule.kind === "LINEAR");
    const { startMerge } = await server.ok(`mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, { i: merge.recipe });
    const merged = await waitForJob(server, startMerge.id);
    expect(merged.status).toBe("SUCCEEDED");
    expect(Math.abs((await evaluate(merged.model.id)) - merge.objective)).toBeLessThanOrEqual(1e-9);
  });

  test("PQ needs COCO_PANOPTIC ground truth and Panoptic-DeepLab heads, naming the field", async () => {
    const taskId = (await server.ok(`{ dataset(id: "${val}") { task { id } } }`)).dataset.task.id;
    const d = manifest.datasets.find((x: any) => x.name === "synth-target-val-panoptic");
    const images = (await server.ok(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, { i: { name: "pan-images", taskId, format: "IMAGES", location: path.join(DEMO, d.folder), classes: d.classes } })).createDataset.id;
    const semantic = manifest.models.find((x: any) => x.name === "selftrain");
    const { body } = await upload(server.origin, fs.readFileSync(path.join(DEMO, semantic.file)));
    const semId = (await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: "sem-on-pan", taskId, artifactSha256: body.sha256, inference: semantic.inference } })).registerModel.id;
    const bad = async (i: Record<string, unknown>) => (await server.gql(`mutation($i: MergeSearchInput!) { startMergeSearch(input: $i) { id } }`, { i })).errors?.[0]?.extensions;
    expect(await bad({ modelIds: [pool[0], semId], objective: { kind: "SCORE", datasetId: val } })).toMatchObject({ code: "BAD_USER_INPUT", field: "input.modelIds.1" });
    expect(await bad({ modelIds: pool, objective: { kind: "INFO_MAX", datasetId: images }, audit: { datasetId: images } })).toMatchObject({ code: "BAD_USER_INPUT", field: "input.audit.datasetId" });
  });
});
