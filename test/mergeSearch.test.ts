import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { upload } from "./support/http";
import { waitForJob } from "./support/jobs";
import { writeOnnxModel, type TestModel } from "../src/core/formats/onnx/testing/onnxModelWriter";
import { blocks, twoLayerNet } from "./support/searchFixtures";
import { colourNet } from "../src/runtime/testing/evalFixtures";
import { main } from "../src/cli/main";
import { runOnnx } from "./support/ortRun";
import { pickConfidence, statsLength } from "../src/core/search";
import { executeJob } from "../src/jobs/executeJob";

const CLASSES = [
  { id: 0, name: "red", isThing: false },
  { id: 1, name: "green", isThing: false },
  { id: 2, name: "blue", isThing: true },
];
// 8×8 images are resized to the 4×4 input and the logits back to 8×8 (the resize path is evaluation's).
const CONTRACT = { inputName: "image", width: 4, height: 4, resize: { mode: "FIXED" }, channelOrder: "RGB", mean: [120, 120, 120], std: [60, 60, 60], outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" }] };

const SEARCH = `mutation($i: MergeSearchInput!) { startMergeSearch(input: $i) { id } }`;
const RESULT = `query($id: ID!) { job(id: $id) { status error message mergeSearch { id planned truncated spearman pickConfidence marginVsBestSingle pickIsSingle summary
  best { key objective audit isSingle rank recipe } bestSingle { key objective }
  candidates(first: 500) { totalCount edges { node { key objective audit isSingle rank recipe seconds } } } } } }`;

describe.each(databaseKinds)("merge search through GraphQL (%s)", (kind) => {
  let server: TestServer;
  let root: string;
  let taskId: string;
  let labelled: string;
  let unlabelled: string;
  const pool: string[] = [];

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "lm-search-"));
    server = await startTestServer(kind, { LAYERMERGE_DATASET_ROOTS: root });
    taskId = (await server.ok(`mutation { createTask(input: { key: "sem", name: "Semantic", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    await blocks(path.join(root, "labelled"));
    fs.mkdirSync(path.join(root, "target"));
    for (const f of fs.readdirSync(path.join(root, "labelled", "images"))) fs.copyFileSync(path.join(root, "labelled", "images", f), path.join(root, "target", f));
    const create = async (name: string, location: string, format: string) =>
      (await server.ok(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, { i: { name, taskId, format, location, classes: CLASSES } })).createDataset.id as string;
    labelled = await create("source", path.join(root, "labelled"), "SEMANTIC_PNG");
    unlabelled = await create("target", path.join(root, "target"), "IMAGES");
    for (const seed of [11, 22, 33]) {
      const { body } = await upload(server.origin, writeOnnxModel(twoLayerNet(seed)).bytes);
      pool.push((await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: `m${seed}`, taskId, artifactSha256: body.sha256, inference: CONTRACT } })).registerModel.id);
    }
  });
  afterAll(async () => {
    await server.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  test("a GRID search ranks every distinct candidate by INFO_MAX on unlabelled images, with an audit that never chooses, and writes no model", async () => {
    const db = server.app.services.database.prisma;
    const before = { models: await db.model.count(), merges: await db.merge.count(), artifacts: await db.artifact.count() };
    const { startMergeSearch } = await server.ok(SEARCH, { i: { modelIds: pool, objective: { kind: "INFO_MAX", datasetId: unlabelled, seed: 5 }, audit: { datasetId: labelled } } });
    const job = (await waitForJob(server, startMergeSearch.id)).id;
    const { job: done } = await server.ok(RESULT, { id: job });
    expect(done.error).toBeNull();
    expect(done.status).toBe("SUCCEEDED");
    const search = done.mergeSearch;
    // With L = 2 (t = 0 and 1) every default schedule but UNIFORM is s = (0, 1): one LINEAR-like
    // candidate per anchor, and UNIFORM is one soup whatever the anchor. 3 singles; 3 pairs × (1 + 2);
    // 1 triple × (1 + 3).
    expect(search.planned).toBe(16);
    expect(search.truncated).toBe(false);
    const nodes = search.candidates.edges.map((e: any) => e.node);
    expect(nodes).toHaveLength(16);
    expect(new Set(nodes.map((n: any) => n.key)).size).toBe(16);
    expect(nodes.filter((n: any) => n.isSingle)).toHaveLength(3);
    // ranked by objective, best first; best is the first of them
    for (let i = 1; i < nodes.length; i++) expect(nodes[i - 1].objective).toBeGreaterThanOrEqual(nodes[i].objective);
    expect(search.best.key).toBe(nodes[0].key);
    expect(search.best.rank).toBe(1);
    const singles = nodes.filter((n: any) => n.isSingle);
    expect(search.bestSingle.key).toBe(singles[0].key);
    expect(search.marginVsBestSingle).toBeCloseTo(nodes[0].objective - singles[0].objective, 12);
    expect(search.pickIsSingle).toBe(nodes[0].isSingle);
    expect(search.pickConfidence).toBeGreaterThan(0);
    expect(search.pickConfidence).toBeLessThanOrEqual(1);
    // Resampled on the candidates' threads as they were scored: the same as core's bootstrap over the stored statistics.
    const stored = await db.mergeSearchCandidate.findMany({ where: { searchId: search.id }, orderBy: { position: "asc" } });
    const L = statsLength("INFO_MAX", CLASSES.length);
    const perImage = stored.map((row) => {
      const all = new Float64Array(new Uint8Array(row.imageStats).buffer);
      return Array.from({ length: all.length / L }, (_, i) => all.subarray(i * L, (i + 1) * L));
    });
    expect(search.pickConfidence).toBe(pickConfidence("INFO_MAX", CLASSES.length, perImage, 5n)!.confidence);
    expect(search.spearman).not.toBeNull();
    expect(Math.abs(search.spearman)).toBeLessThanOrEqual(1);
    expect(search.summary).toMatch(/16 candidates scored/);
    // ordered by audit instead
    const byAudit = await server.ok(`query($id: ID!) { mergeSearch(id: $id) { candidates(first: 3, orderBy: AUDIT) { edges { node { audit rank } } pageInfo { hasNextPage endCursor } } } }`, { id: search.id });
    const audits = byAudit.mergeSearch.candidates.edges.map((e: any) => e.node.audit);
    expect(audits).toEqual([...nodes.map((n: any) => n.audit)].sort((a, b) => b - a).slice(0, 3));
    expect(byAudit.mergeSearch.candidates.pageInfo.hasNextPage).toBe(true);
    expect(await db.model.count()).toBe(before.models);
    expect(await db.merge.count()).toBe(before.merges);
    expect(await db.artifact.count()).toBe(before.artifacts);
    expect((await server.ok(`{ mergeSearches { totalCount } }`)).mergeSearches.totalCount).toBeGreaterThanOrEqual(1);

    // A merge candidate's audit score is startEvaluation's score of the same recipe merged for real.
    const merged = nodes.find((n: any) => !n.isSingle && n.recipe.modelIds.length === 2);
    const r = merged.recipe;
    const { startMerge } = await server.ok(`mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, { i: { anchorId: r.anchorId, modelIds: r.modelIds, method: r.method, schedule: { kind: r.schedule.kind, cutoff: r.schedule.cutoff, knots: r.schedule.knots }, weights: r.weights } });
    const mergeJob = await waitForJob(server, startMerge.id);
    expect(mergeJob.status).toBe("SUCCEEDED");
    const { startEvaluation } = await server.ok(`mutation($i: StartEvaluationInput!) { startEvaluation(input: $i) { id } }`, { i: { modelId: mergeJob.model.id, datasetId: labelled } });
    await waitForJob(server, startEvaluation.id);
    const evaluation = (await server.ok(`query($id: ID!) { job(id: $id) { status error evaluation { score } } }`, { id: startEvaluation.id })).job;
    expect(evaluation.error).toBeNull();
    expect(Math.abs(evaluation.evaluation.score - merged.audit)).toBeLessThanOrEqual(1e-9);

    // deleteMergeSearch removes its rows
    expect((await server.ok(`mutation($id: ID!) { deleteMergeSearch(id: $id) }`, { id: search.id })).deleteMergeSearch).toBe(true);
    expect(await db.mergeSearchCandidate.count({ where: { searchId: search.id } })).toBe(0);
    expect((await server.ok(`query($id: ID!) { mergeSearch(id: $id) { id } }`, { id: search.id })).mergeSearch).toBeNull();
  });

  test("budget cut, TOP_K keeps merges (linked back to the search), single picks write nothing", async () => {
    const { startMergeSearch } = await server.ok(SEARCH, { i: { modelIds: pool, objective: { kind: "CONSISTENCY", datasetId: unlabelled, seed: 1 }, budget: { maxCandidates: 7 }, keep: "TOP_K", topK: 3, output: { namePrefix: "kept" }, audit: { datasetId: labelled } } });
    await waitForJob(server, startMergeSearch.id);
    const { job } = await server.ok(`query($id: ID!) { job(id: $id) { status error mergeSearch { id planned truncated settings keptJobs { id } candidates(first: 3) { edges { node { isSingle key } } } } } }`, { id: startMergeSearch.id });
    expect(job.error).toBeNull();
    const search = job.mergeSearch;
    expect(search.planned).toBe(7);
    expect(search.truncated).toBe(true);
    expect(search.settings.draws).toHaveLength(3);
    const mergesInTop = search.candidates.edges.filter((e: any) => !e.node.isSingle).length;
    expect(mergesInTop).toBeGreaterThan(0); // this pool's top 3 holds a merge, so keeping is exercised
    expect(search.keptJobs).toHaveLength(mergesInTop);
    for (const k of search.keptJobs) {
      const kept = await waitForJob(server, k.id);
      expect(kept.status).toBe("SUCCEEDED");
      const link = await server.ok(`query($id: ID!) { model(id: $id) { merge { search { id } inputs { role } } } }`, { id: kept.model.id });
      expect(link.model.merge.search.id).toBe(search.id);
      expect(link.model.merge.inputs.map((x: any) => x.role)).toEqual(["ANCHOR", "CONTRIBUTOR"]);
      // kept models are evaluated on the audit dataset, as startEvaluation does
      const db = server.app.services.database.prisma;
      const evalJob = (await db.job.findMany({ where: { kind: "EVALUATE" } })).find((j) => (j.payload as { modelId?: string }).modelId === kept.model.id)!;
      expect((await waitForJob(server, evalJob.id)).status).toBe("SUCCEEDED");
      const scored = await server.ok(`query($id: ID!, $d: ID!) { model(id: $id) { score(datasetId: $d) } }`, { id: kept.model.id, d: labelled });
      expect(scored.model.score).toBeGreaterThan(0);
    }
  });

  test("EVOLUTION: CMA-ES tunes per-group knots of the best grid merge with the budget left; a seed reproduces the run", async () => {
    const run = async () => {
      const { startMergeSearch } = await server.ok(SEARCH, { i: { modelIds: pool, strategy: "EVOLUTION", objective: { kind: "INFO_MAX", datasetId: unlabelled, seed: 3 }, budget: { maxCandidates: 30 } } });
      await waitForJob(server, startMergeSearch.id);
      const { job } = await server.ok(`query($id: ID!) { job(id: $id) { status error mergeSearch { planned candidates(first: 100) { edges { node { key objective position recipe } } } } } }`, { id: startMergeSearch.id });
      expect(job.error).toBeNull();
      return job.mergeSearch;
    };
    const first = await run();
    // the grid gets 15 of 30; n = 5 knots × 2 groups (stem., head.) → λ = 4 + ⌊3 ln 10⌋ = 10, one generation fits in 15
    expect(first.planned).toBe(30);
    const nodes = first.candidates.edges.map((e: any) => e.node);
    const evolved = nodes.filter((n: any) => n.position >= 15);
    expect(nodes.filter((n: any) => n.position < 15)).toHaveLength(15);
    expect(evolved.length).toBeGreaterThan(0);
    expect(evolved.length).toBeLessThanOrEqual(10);
    for (const n of evolved) {
      expect(n.recipe.schedule.groups.map((g: any) => g.prefix)).toEqual(["stem.", "head."]);
      for (const g of n.recipe.schedule.groups) {
        expect(g.knots).toHaveLength(5);
        for (const k of g.knots) expect(k >= 0 && k <= 1).toBe(true);
      }
    }
    const again = await run();
    const summary = (s: any) => s.candidates.edges.map((e: any) => [e.node.key, e.node.objective]).sort();
    expect(summary(again)).toEqual(summary(first));
    // an evolved candidate is a startMerge input
    const r = evolved[0].recipe;
    const plan = await server.ok(`query($i: StartMergeInput!) { mergePlan(input: $i) { schedule { groups { prefix } } } }`, { i: { anchorId: r.anchorId, modelIds: r.modelIds, schedule: { kind: r.schedule.kind, cutoff: r.schedule.cutoff, knots: r.schedule.knots, groups: r.schedule.groups } } });
    expect(plan.mergePlan.schedule.groups).toHaveLength(2);
  });

  test("the CLI runs a search with a progress bar and prints the ranked table and how sure the pick is", async () => {
    const err: string[] = [];
    const out: string[] = [];
    const spies = [
      jest.spyOn(console, "error").mockImplementation((...a) => void err.push(a.join(" "))),
      jest.spyOn(console, "log").mockImplementation((...a) => void out.push(a.join(" "))),
      jest.spyOn(process.stderr, "write").mockImplementation((c: any) => (err.push(String(c)), true)),
    ];
    const saved = process.env.LAYERMERGE_URL;
    process.env.LAYERMERGE_URL = server.origin;
    try {
      expect(await main(["search", "--pool", ...pool, "--objective", "info-max", "--dataset", unlabelled, "--audit", labelled, "--top", "5"])).toBe(0);
    } finally {
      process.env.LAYERMERGE_URL = saved;
      spies.forEach((s) => s.mockRestore());
    }
    expect(err.join("\n")).toMatch(/16 candidates/);
    expect(err.join("\n")).toMatch(/searching .*100%/);
    const lines = out.join("\n").split("\n");
    expect(lines[0]).toMatch(/rank\s+objective\s+audit %/);
    expect(lines.slice(1, 6).map((l) => Number(l.trim().split(/\s+/)[0]))).toEqual([1, 2, 3, 4, 5]);
    expect(out.join("\n")).toMatch(/… 11 more/);
    expect(out.join("\n")).toMatch(/best single model: m\d+@1 \(alone\)/);
    expect(out.join("\n")).toMatch(/pick confidence \d+\.\d% .* Spearman/);
  });

  test("a model declaring PROBS outputs is read as probabilities: a softmax twin scores the same INFO_MAX", async () => {
    const net = twoLayerNet(11);
    const twin: TestModel = {
      ...net,
      nodes: [...net.nodes.map((n) => (n.name === "head" ? { ...n, outputs: ["scores"] } : n)), { opType: "Softmax", name: "softmax", inputs: ["scores"], outputs: ["logits"], attributes: [{ name: "axis", int: 1 }] }],
    };
    // At the images' own size (8×8): resizing probabilities and resizing logits differ, so no resize here.
    const at8 = { ...CONTRACT, width: 8, height: 8 };
    const register = async (name: string, model: TestModel, inference: unknown) => {
      const { body } = await upload(server.origin, writeOnnxModel(model).bytes);
      return (await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id inference { outputs { kind activation } } } }`, { i: { name, taskId, artifactSha256: body.sha256, inference } })).registerModel;
    };
    const logits = await register("m11-at8", net, at8);
    const reg = { registerModel: await register("m11-softmax", twin, { ...at8, outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS", activation: "PROBS" }] }) };
    expect(reg.registerModel.inference.outputs).toEqual([{ kind: "SEMANTIC_LOGITS", activation: "PROBS" }]);
    expect(logits.inference.outputs).toEqual([{ kind: "SEMANTIC_LOGITS", activation: null }]);
    const { startMergeSearch } = await server.ok(SEARCH, { i: { modelIds: [logits.id, reg.registerModel.id], maxModels: 1, objective: { kind: "INFO_MAX", datasetId: unlabelled } } });
    await waitForJob(server, startMergeSearch.id);
    const { job } = await server.ok(`query($id: ID!) { job(id: $id) { error mergeSearch { candidates { edges { node { objective recipe } } } } } }`, { id: startMergeSearch.id });
    expect(job.error).toBeNull();
    const byModel = Object.fromEntries(job.mergeSearch.candidates.edges.map((e: any) => [e.node.recipe.anchorId, e.node.objective]));
    // the same probabilities, once from float64 softmax of the logits and once from onnxruntime's float32 Softmax
    expect(Math.abs(byModel[logits.id] - byModel[reg.registerModel.id])).toBeLessThan(1e-5);
    expect(byModel[logits.id]).not.toBeCloseTo(0, 3);
  });

  test("budget.maxSeconds stops starting candidates; the search says it was cut", async () => {
    const { startMergeSearch } = await server.ok(SEARCH, { i: { modelIds: pool, objective: { kind: "ENTROPY", datasetId: unlabelled }, budget: { maxSeconds: 0.001 } } });
    const end = await waitForJob(server, startMergeSearch.id);
    expect(end.status).toBe("SUCCEEDED");
    expect(end.message).toMatch(/stopped at budget\.maxSeconds/);
    const { job } = await server.ok(`query($id: ID!) { job(id: $id) { mergeSearch { planned truncated candidates { totalCount } } } }`, { id: startMergeSearch.id });
    expect(job.mergeSearch.planned).toBe(16);
    expect(job.mergeSearch.truncated).toBe(true);
    expect(job.mergeSearch.candidates.totalCount).toBeGreaterThanOrEqual(1);
    expect(job.mergeSearch.candidates.totalCount).toBeLessThan(16);
  });

  test("CONSISTENCY of a model equals a reference computed from onnxruntime's own logits", async () => {
    const at8 = { ...CONTRACT, width: 8, height: 8 }; // the images' size: no resize on either side
    // class 0 for bright pixels, 2 for dark ones, 1 in between: the brightness jitter moves pixels across
    const bytes = writeOnnxModel(colourNet({ weight: [[1 / 3, 1 / 3, 1 / 3], [0, 0, 0], [-1 / 3, -1 / 3, -1 / 3]], bias: [0, 0, -0.5] })).bytes;
    const { body } = await upload(server.origin, bytes);
    const modelId = (await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: "brightness-at8", taskId, artifactSha256: body.sha256, inference: at8 } })).registerModel.id;
    const seed = 9n;
    const { startMergeSearch } = await server.ok(SEARCH, { i: { modelIds: [modelId, pool[0]], maxModels: 1, objective: { kind: "CONSISTENCY", datasetId: unlabelled, seed: Number(seed) } } });
    await waitForJob(server, startMergeSearch.id);
    const { job } = await server.ok(`query($id: ID!) { job(id: $id) { error mergeSearch { candidates { edges { node { objective recipe } } } } } }`, { id: startMergeSearch.id });
    expect(job.error).toBeNull();
    const objective: number = job.mergeSearch.candidates.edges.map((e: any) => e.node).find((n: any) => n.recipe.anchorId === modelId).objective;

    // The reference: draws from splitmix64 written out here, the jitter in float32 as defined, DIVIDE
    // normalisation, onnxruntime in a plain process, argmax (ties to the lowest class), one confusion matrix.
    const sharp = (await import("sharp")).default;
    const files = fs.readdirSync(path.join(root, "target")).filter((f) => f.endsWith(".png")).sort();
    const M = (1n << 64n) - 1n;
    const u = (k: bigint) => {
      let z = (seed + k * 0x9e3779b97f4a7c15n) & M;
      z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
      z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M;
      return Number((z ^ (z >> 31n)) >> 11n) / 2 ** 53;
    };
    const f = Math.fround;
    const W = 8, H = 8, N = files.length;
    const clean = new Float32Array(N * 3 * H * W);
    const jittered = new Float32Array(N * 3 * H * W);
    for (const [n, file] of files.entries()) {
      const rgb = await sharp(path.join(root, "target", file)).raw().toBuffer();
      const b = f(-32 + 64 * u(BigInt(2 * n + 1)));
      const c = f(0.5 + u(BigInt(2 * n + 2)));
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++)
          for (let ch = 0; ch < 3; ch++) {
            const o = n * 3 * H * W + ch * H * W + y * W + x;
            clean[o] = f(f(rgb[(y * W + x) * 3 + ch] - 120) / 60);
            const v = f(f(f(f(rgb[(y * W + (W - 1 - x)) * 3 + ch] + b) - 127.5) * c) + 127.5);
            jittered[o] = f(f(Math.min(255, Math.max(0, v)) - 120) / 60);
          }
    }
    const logitsOf = (input: Float32Array) => runOnnx(bytes, "image", input, [N, 3, H, W]).logits.data;
    const argmax = (l: number[], n: number, i: number) => {
      let best = 0;
      for (let k = 1; k < 3; k++) if (l[n * 3 * H * W + k * H * W + i] > l[n * 3 * H * W + best * H * W + i]) best = k;
      return best;
    };
    const a = logitsOf(clean);
    const p = logitsOf(jittered);
    const cm = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
    for (let n = 0; n < N; n++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) cm[argmax(a, n, y * W + x)][argmax(p, n, y * W + (W - 1 - x))]++;
    const ious = [0, 1, 2].map((k) => cm[k][k] / (cm[k].reduce((s, v) => s + v, 0) + cm.reduce((s, r) => s + r[k], 0) - cm[k][k])).filter((v) => !Number.isNaN(v));
    const expected = ious.reduce((s, v) => s + v, 0) / ious.length;
    expect(Math.abs(objective - expected)).toBeLessThanOrEqual(1e-12 * expected);
    expect(expected).toBeLessThan(1); // the jitter changes some predictions: the check is not trivially 1
  });

  test("per-group knots: mergePlan and startMerge take them, the Merge records them", async () => {
    // UNIFORM for everything but the stem, whose group holds s = 0.3: w_a = 1/2 + 1/2 · 0.3 there.
    const schedule = { kind: "UNIFORM", groups: [{ prefix: "stem.", knots: [0.3, 0.3] }] };
    const i = { anchorId: pool[0], modelIds: [pool[1]], schedule };
    const plan = await server.ok(`query($i: StartMergeInput!) { mergePlan(input: $i) { schedule { kind groups { prefix knots } } layers { index weights } } }`, { i });
    expect(plan.mergePlan.schedule).toEqual(schedule);
    const [stem, head] = plan.mergePlan.layers;
    expect(stem.weights[0]).toBeCloseTo(0.65, 15);
    expect(stem.weights[1]).toBeCloseTo(0.35, 15);
    expect(head.weights).toEqual([0.5, 0.5]);
    const { startMerge } = await server.ok(`mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, { i });
    const done = await waitForJob(server, startMerge.id);
    const merge = await server.ok(`query($id: ID!) { model(id: $id) { merge { schedule { kind groups { prefix knots } } search { id } } } }`, { id: done.model.id });
    expect(merge.model.merge).toEqual({ schedule, search: null });
    const bad = await server.gql(`query($i: StartMergeInput!) { mergePlan(input: $i) { layerCount } }`, { i: { ...i, schedule: { kind: "UNIFORM", groups: [{ prefix: "stem.", knots: [2, 0] }] } } });
    expect(bad.errors?.[0].extensions?.field).toBe("input.schedule.groups.0.knots.0");
  });

  test("bad input is refused naming the field; a cancelled search leaves nothing", async () => {
    const bad = async (i: Record<string, unknown>) => (await server.gql(SEARCH, { i })).errors?.[0];
    expect((await bad({ modelIds: [pool[0]], objective: { kind: "INFO_MAX", datasetId: unlabelled } }))?.extensions?.field).toBe("input.modelIds");
    const score = await bad({ modelIds: pool, objective: { kind: "SCORE", datasetId: unlabelled } });
    expect(score?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.objective.datasetId" });
    expect((await bad({ modelIds: pool, objective: { kind: "INFO_MAX", datasetId: unlabelled }, audit: { datasetId: unlabelled } }))?.message).toMatch(/audit dataset needs labels/);
    expect((await bad({ modelIds: pool, anchorIds: ["nope"], objective: { kind: "INFO_MAX", datasetId: unlabelled } }))?.extensions?.field).toBe("input.anchorIds.0");
    const db = server.app.services.database.prisma;
    const searchesBefore = await db.mergeSearch.count();
    // Cancelled while queued, and while running with candidates already scored: nothing is left.
    const queued = (await server.ok(SEARCH, { i: { modelIds: pool, objective: { kind: "ENTROPY", datasetId: unlabelled } } })).startMergeSearch.id;
    await server.ok(`mutation($id: ID!) { cancelJob(id: $id) { id } }`, { id: queued });
    expect((await waitForJob(server, queued)).status).toBe("CANCELLED");
    expect(await db.mergeSearch.count()).toBe(searchesBefore);
    const running = (await server.ok(SEARCH, { i: { modelIds: pool, objective: { kind: "ENTROPY", datasetId: unlabelled } } })).startMergeSearch.id;
    const searchId = (await db.mergeSearch.findUniqueOrThrow({ where: { jobId: running } })).id;
    while ((await db.mergeSearchCandidate.count({ where: { searchId } })) < 2) await new Promise((r) => setTimeout(r, 5));
    await server.ok(`mutation($id: ID!) { cancelJob(id: $id) { id } }`, { id: running });
    expect((await waitForJob(server, running)).status).toBe("CANCELLED");
    expect(await db.mergeSearch.count()).toBe(searchesBefore);
    expect(await db.mergeSearchCandidate.count({ where: { searchId } })).toBe(0);
    expect(fs.readdirSync(server.app.services.store.scratchDir).filter((f) => f.includes(running))).toEqual([]);
  });

  test("a search job claimed with its cancel already asked ends CANCELLED and leaves no search row", async () => {
    // cancelJob found the job queued and set the flag, but a runner claimed it in between, so the
    // job is RUNNING when the runner's executeJob reads it: its handler never runs. The job row is
    // owned by another (live) worker here, so this server's runner leaves it alone.
    const { prisma: db } = server.app.services.database;
    const searchesBefore = await db.mergeSearch.count();
    const job = await db.job.create({ data: { kind: "MERGE_SEARCH", status: "RUNNING", payload: {}, cancelRequested: true, worker: "another-host:1", heartbeatAt: new Date() } });
    const search = await db.mergeSearch.create({ data: { jobId: job.id, settings: {}, planned: 0 } });
    await db.job.update({ where: { id: job.id }, data: { payload: { searchId: search.id } } });
    const { handlers, events, logger } = server.app.services;
    const end = await executeJob(db, handlers, events, logger, job.id, { worker: "test", signal: new AbortController().signal, mayRetry: false, isShuttingDown: () => false });
    expect(end).toBe("CANCELLED");
    expect((await db.job.findUniqueOrThrow({ where: { id: job.id } })).status).toBe("CANCELLED");
    expect(await db.mergeSearch.count()).toBe(searchesBefore);
  });
});
