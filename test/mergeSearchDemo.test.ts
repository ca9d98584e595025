import * as fs from "node:fs";
import * as path from "node:path";
import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { upload } from "./support/http";
import { waitForJob } from "./support/jobs";

/*
 * A GRID search over the demo's pool of semantic models, through GraphQL. Objectives are checked
 * against examples/demo/search_check.py (PyTorch, float64, from the committed ONNX weights), and
 * a candidate's audit score against startEvaluation of the same recipe merged for real.
 */
const DEMO = path.resolve(__dirname, "..", "examples", "demo");
const manifest = JSON.parse(fs.readFileSync(path.join(DEMO, "manifest.json"), "utf8"));
const check = JSON.parse(fs.readFileSync(path.join(DEMO, "search_check.json"), "utf8"));
const POOL = ["selftrain", "source-only", "augment", "selftrain-ckpt", "fcn-head"];

describe.each(databaseKinds)("merge search over the demo pool (%s)", (kind) => {
  jest.setTimeout(300_000);
  let server: TestServer;
  const ids: Record<string, string> = {};
  let target: string;
  let targetLabelled: string;

  beforeAll(async () => {
    server = await startTestServer(kind, { LAYERMERGE_DATASET_ROOTS: path.join(DEMO, "datasets") });
    const taskId = (await server.ok(`mutation { createTask(input: { key: "semantic", name: "Semantic", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    const classes = manifest.datasets.find((d: any) => d.name === "synth-target-val").classes;
    const create = async (name: string, format: string) =>
      (await server.ok(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, { i: { name, taskId, format, location: path.join(DEMO, check.split), classes } })).createDataset.id as string;
    target = await create("target-images", "IMAGES");
    targetLabelled = await create("target-val", "SEMANTIC_PNG");
    for (const name of POOL) {
      const m = manifest.models.find((x: any) => x.name === name);
      const { body } = await upload(server.origin, fs.readFileSync(path.join(DEMO, m.file)));
      ids[name] = (await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name, taskId, artifactSha256: body.sha256, inference: m.inference } })).registerModel.id;
    }
  });
  afterAll(() => server.stop());

  test("~100 candidates: INFO_MAX equals PyTorch's, the audit equals startEvaluation of the real merge", async () => {
    const started = Date.now();
    const { startMergeSearch } = await server.ok(`mutation($i: MergeSearchInput!) { startMergeSearch(input: $i) { id } }`, {
      i: { modelIds: POOL.map((n) => ids[n]), objective: { kind: "INFO_MAX", datasetId: target, limit: check.limit }, audit: { datasetId: targetLabelled, limit: check.limit }, budget: { maxCandidates: 100 } },
    });
    await waitForJob(server, startMergeSearch.id, 280_000);
    const seconds = (Date.now() - started) / 1000;
    const { job } = await server.ok(`query($id: ID!) { job(id: $id) { status error mergeSearch { id planned truncated spearman pickConfidence marginVsBestSingle pickIsSingle summary
      best { objective audit recipe } candidates(first: 100) { totalCount edges { node { key objective audit isSingle recipe seconds } } } } } }`, { id: startMergeSearch.id });
    expect(job.error).toBeNull();
    const s = job.mergeSearch;
    expect(s.planned).toBe(100);
    expect(s.truncated).toBe(true);
    const nodes = s.candidates.edges.map((e: any) => e.node);
    expect(nodes).toHaveLength(100);
    const nameOf = Object.fromEntries(Object.entries(ids).map(([n, id]) => [id, n]));
    for (const n of nodes.filter((x: any) => x.isSingle)) {
      const ref = check.models[nameOf[n.recipe.anchorId]].INFO_MAX;
      expect({ model: nameOf[n.recipe.anchorId], diff: Math.abs(n.objective - ref) <= 1e-5 }).toEqual({ model: nameOf[n.recipe.anchorId], diff: true });
    }
    const soupRef = check.merges[0];
    const soup = nodes.find((x: any) => !x.isSingle && x.recipe.schedule.kind === "UNIFORM" && [x.recipe.anchorId, ...x.recipe.modelIds].map((id: string) => nameOf[id]).sort().join() === [soupRef.anchor, ...soupRef.contributors].sort().join());
    expect(Math.abs(soup.objective - soupRef.INFO_MAX)).toBeLessThanOrEqual(1e-5);

    const { startMerge } = await server.ok(`mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, { i: { anchorId: soup.recipe.anchorId, modelIds: soup.recipe.modelIds, schedule: { kind: "UNIFORM" } } });
    const merged = await waitForJob(server, startMerge.id);
    const { startEvaluation } = await server.ok(`mutation($i: StartEvaluationInput!) { startEvaluation(input: $i) { id } }`, { i: { modelId: merged.model.id, datasetId: targetLabelled, limit: check.limit } });
    await waitForJob(server, startEvaluation.id);
    const ev = (await server.ok(`query($id: ID!) { job(id: $id) { evaluation { score } } }`, { id: startEvaluation.id })).job.evaluation;
    expect(Math.abs(ev.score - soup.audit)).toBeLessThanOrEqual(1e-9);

    const perCandidate = nodes.reduce((a: number, n: any) => a + n.seconds, 0) / nodes.length;
    const best = s.best;
    // Figures for the README (printed, not asserted: they depend on the machine and the data).
    console.log(`demo search: ${nodes.length} candidates in ${seconds.toFixed(1)} s (${(perCandidate * 1000).toFixed(0)} ms each on a thread), spearman ${s.spearman?.toFixed(3)}, pick ${best.recipe.modelIds.length ? "merge" : "single"} ${JSON.stringify(best.recipe)} objective ${best.objective.toFixed(4)} audit ${best.audit.toFixed(4)}, confidence ${s.pickConfidence}, margin ${s.marginVsBestSingle}`);
  });
  test("a Panoptic-DeepLab model is ranked by its semantic head: ENTROPY equals PyTorch's", async () => {
    const panTask = (await server.ok(`mutation { createTask(input: { key: "panoptic", name: "Panoptic", kind: PANOPTIC, primaryMetric: PQ }) { id } }`)).createTask.id;
    const classes = manifest.datasets.find((d: any) => d.name === "synth-target-val-panoptic").classes;
    const images = (await server.ok(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, { i: { name: "target-images-panoptic", taskId: panTask, format: "IMAGES", location: path.join(DEMO, check.split), classes } })).createDataset.id;
    const pan: Record<string, string> = {};
    for (const name of ["panoptic", "selftrain"]) {
      const m = manifest.models.find((x: any) => x.name === name);
      const { body } = await upload(server.origin, fs.readFileSync(path.join(DEMO, m.file)));
      pan[name] = (await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: `${name}-pan`, taskId: panTask, artifactSha256: body.sha256, inference: m.inference } })).registerModel.id;
    }
    const { startMergeSearch } = await server.ok(`mutation($i: MergeSearchInput!) { startMergeSearch(input: $i) { id } }`, { i: { modelIds: [pan.panoptic, pan.selftrain], maxModels: 1, objective: { kind: "ENTROPY", datasetId: images, limit: check.limit } } });
    await waitForJob(server, startMergeSearch.id);
    const { job } = await server.ok(`query($id: ID!) { job(id: $id) { error mergeSearch { candidates { edges { node { objective recipe } } } } } }`, { id: startMergeSearch.id });
    expect(job.error).toBeNull();
    const byId = Object.fromEntries(job.mergeSearch.candidates.edges.map((e: any) => [e.node.recipe.anchorId, e.node.objective]));
    expect(Math.abs(byId[pan.panoptic] - check.models.panoptic.ENTROPY)).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(byId[pan.selftrain] - check.models.selftrain.ENTROPY)).toBeLessThanOrEqual(1e-5);
  });
});
