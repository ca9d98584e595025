import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { upload } from "./support/http";
import { waitForJob } from "./support/jobs";
import { blockImage, colourNet, writeSemanticSample } from "../src/runtime/testing/evalFixtures";
import { writeOnnxModel } from "../src/core/formats/onnx/testing/onnxModelWriter";
import { writeSafetensors } from "../src/core/formats/safetensors/testing/writeSafetensors";
import { main } from "../src/cli/main";

const CLASSES = [
  { id: 0, name: "red", isThing: false },
  { id: 1, name: "green", isThing: false },
  { id: 2, name: "blue", isThing: true },
];
const CONTRACT = { inputName: "image", width: 4, height: 4, resize: { mode: "FIXED" }, channelOrder: "RGB", mean: [10, 20, 30], std: [2, 2, 2], outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" }] };

/*
 * "blocks": an 8×8 image of 2×2-pixel blocks (0 red, 1 green, 2 blue)
 *   0 0 1 1 / 0 0 1 1 / 2 2 2 2 / 2 2 0 1   → red 20 px, green 20, blue 24.
 * The identity 1×1 Conv predicts each block's colour. Labels are the block colours except
 * (0,0) labelled 1 (it is red), (row 4, col 0) and (4,1) labelled 0 (they are blue), and (7,7)
 * ignored (255; it is green). Confusion matrix (rows = label, cols = prediction), per image:
 *   label 0: pred 0 → 19, pred 2 → 2       label 1: pred 0 → 1, pred 1 → 19       label 2: pred 2 → 22
 * IoU_0 = 19 / (21 + 20 − 19) = 19/22;  IoU_1 = 19 / (20 + 19 − 19) = 19/20;  IoU_2 = 22 / (22 + 24 − 22) = 22/24.
 * Every image is the same, so the split's ratios are the same.
 */
const IOU = [19 / 22, 19 / 20, 22 / 24];
const BLOCKS = [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 2, 2], [2, 2, 0, 1]];
const RGB = [[255, 0, 0], [0, 255, 0], [0, 0, 255]];

/**
 * A second, independent statement of the pipeline for this dataset, in float64: each 4×4 model
 * pixel is its block's colour, normalised; logits = W·x + b; upsampled to 8×8 with PyTorch's
 * half-pixel bilinear taps (source = (i + 0.5)/2 − 0.5, clamped at 0); argmax (ties → lowest
 * class); confusion matrix against the labels; mIoU over classes with a non-empty union.
 */
function expectedMiou(W: number[][], b: number[]): number {
  const mean = [10, 20, 30];
  const logits = BLOCKS.map((row) => row.map((c) => W.map((w, k) => w.reduce((s, wi, i) => s + (wi * (RGB[c][i] - mean[i])) / 2, b[k]))));
  const tap = (i: number): [number, number, number] => {
    const src = Math.max(0, (i + 0.5) / 2 - 0.5);
    const i0 = Math.floor(src);
    return [i0, Math.min(i0 + 1, 3), src - i0];
  };
  const cm = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  for (let y = 0; y < 8; y++)
    for (let x = 0; x < 8; x++) {
      const [y0, y1, ly] = tap(y);
      const [x0, x1, lx] = tap(x);
      const v = [0, 1, 2].map((k) => (1 - ly) * ((1 - lx) * logits[y0][x0][k] + lx * logits[y0][x1][k]) + ly * ((1 - lx) * logits[y1][x0][k] + lx * logits[y1][x1][k]));
      let pred = 0;
      for (let k = 1; k < 3; k++) if (v[k] > v[pred]) pred = k;
      let label = BLOCKS[Math.floor(y / 2)][Math.floor(x / 2)];
      if (y === 0 && x === 0) label = 1;
      if (y === 4 && (x === 0 || x === 1)) label = 0;
      if (y === 7 && x === 7) continue;
      cm[label][pred]++;
    }
  const ious = [0, 1, 2].map((c) => {
    const tp = cm[c][c];
    const union = cm[c].reduce((a, n) => a + n, 0) + cm.reduce((a, row) => a + row[c], 0) - tp;
    return union ? tp / union : null;
  }).filter((v): v is number => v !== null);
  return ious.reduce((a, v) => a + v, 0) / ious.length;
}
const MIOU = (IOU[0] + IOU[1] + IOU[2]) / 3;

async function blocksDataset(dir: string, copies: number, tamper?: (label: number[], i: number) => number[]) {
  const img = blockImage([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 2, 2], [2, 2, 0, 1]], 2);
  for (let i = 0; i < copies; i++) {
    let label = [...img.classes];
    label[0] = 1;
    label[32] = 0;
    label[33] = 0;
    label[63] = 255;
    if (tamper) label = tamper(label, i);
    await writeSemanticSample(dir, `img${i}`, img.width, img.height, img.rgb, label);
  }
}

describe.each(databaseKinds)("evaluation through GraphQL (%s)", (kind) => {
  let server: TestServer;
  let root: string;
  let taskId: string;
  let datasetId: string;
  const ids: Record<string, string> = {};

  const createDataset = (name: string, location: string, extra: Record<string, unknown> = {}) =>
    server.gql(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id imageCount sizeBytes checksum } }`, {
      i: { name, taskId, format: "SEMANTIC_PNG", location, classes: CLASSES, ...extra },
    });
  const registerOnnx = async (name: string, bytes: Uint8Array, inference: unknown = CONTRACT) => {
    const { body } = await upload(server.origin, bytes);
    const { registerModel } = await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name, taskId, artifactSha256: body.sha256, inference } });
    ids[name] = registerModel.id;
    return registerModel.id as string;
  };
  const evaluate = async (input: Record<string, unknown>) => {
    const { startEvaluation } = await server.ok(`mutation($i: StartEvaluationInput!) { startEvaluation(input: $i) { id } }`, { i: input });
    await waitForJob(server, startEvaluation.id);
    return (await server.ok(`query($id: ID!) { job(id: $id) { status message error errorCode reused evaluation { id score canonical images metrics perClass { classId name iou acc } } } }`, { id: startEvaluation.id })).job;
  };

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "lm-eval-"));
    server = await startTestServer(kind, { LAYERMERGE_DATASET_ROOTS: root });
    taskId = (await server.ok(`mutation { createTask(input: { key: "sem", name: "Semantic", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    await blocksDataset(path.join(root, "blocks"), 3);
  });
  afterAll(async () => {
    await server.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  test("createDataset checks the files and records count, size and checksum; problems are refused per file", async () => {
    const ok = await createDataset("blocks", path.join(root, "blocks"));
    expect(ok.errors).toBeUndefined();
    expect(ok.data.createDataset.imageCount).toBe(3);
    expect(ok.data.createDataset.sizeBytes).toBeGreaterThan(0);
    expect(ok.data.createDataset.checksum).toMatch(/^[0-9a-f]{64}$/);
    datasetId = ok.data.createDataset.id;

    await blocksDataset(path.join(root, "bad-labels"), 2, (label, i) => (i === 1 ? label.map((v, j) => (j === 5 ? 7 : v)) : label));
    const bad = await createDataset("bad-labels", path.join(root, "bad-labels"));
    expect(bad.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(bad.errors?.[0].message).toMatch(/img1/);
    expect(bad.errors?.[0].message).toMatch(/7/);
    fs.mkdirSync(path.join(root, "unpaired", "images"), { recursive: true });
    await blocksDataset(path.join(root, "unpaired"), 1);
    fs.copyFileSync(path.join(root, "unpaired", "images", "img0.png"), path.join(root, "unpaired", "images", "lonely.png"));
    const unpaired = await createDataset("unpaired", path.join(root, "unpaired"));
    expect(unpaired.errors?.[0].message).toMatch(/lonely/);
    const missing = await createDataset("missing", path.join(root, "nope"));
    expect(missing.errors?.[0].extensions?.field).toBe("input.location");
    expect((await server.ok(`{ datasets { totalCount } }`)).datasets.totalCount).toBe(1);
  });

  test("a semantic model's evaluation matches the hand-computed mIoU and becomes its score", async () => {
    await registerOnnx("identity", writeOnnxModel(colourNet()).bytes);
    const job = await evaluate({ modelId: ids.identity, datasetId });
    expect(job.status).toBe("SUCCEEDED");
    expect(job.message).toMatch(/mIoU \d+\.\d\d% over 3 images/);
    const e = job.evaluation;
    expect(e.score).toBeCloseTo(MIOU, 12);
    expect(e.canonical).toBe(true);
    expect(e.images).toBe(3);
    expect(e.perClass.map((c: any) => c.iou)).toEqual(IOU.map((v) => expect.closeTo(v, 12)));
    // aAcc: (19 + 19 + 22) / (21 + 20 + 22) = 60/63
    expect(e.metrics.aAcc).toBeCloseTo(60 / 63, 12);
    const { model } = await server.ok(`query($id: ID!, $d: ID!) { model(id: $id) { score(datasetId: $d) evaluations { id } } }`, { id: ids.identity, d: datasetId });
    expect(model.score).toBeCloseTo(MIOU, 12);
    expect(model.evaluations).toHaveLength(1);

    // The same settings again return the stored evaluation; force runs it again.
    const again = await evaluate({ modelId: ids.identity, datasetId });
    expect(again.evaluation.id).toBe(e.id);
    expect(again.message).toMatch(/stored evaluation/);
    expect(again.reused).toBe(true);
    const forced = await evaluate({ modelId: ids.identity, datasetId, force: true, batchSize: 2 });
    expect(forced.evaluation.id).not.toBe(e.id);
    expect(forced.reused).toBe(false);
    expect(forced.evaluation.score).toBeCloseTo(MIOU, 12);

    // A class subset or a limit is not the canonical score: Model.score stays.
    const subset = await evaluate({ modelId: ids.identity, datasetId, classes: [0, 1] });
    expect(subset.evaluation.score).toBeCloseTo((IOU[0] + IOU[1]) / 2, 12);
    expect(subset.evaluation.canonical).toBe(false);
    const limited = await evaluate({ modelId: ids.identity, datasetId, limit: 1 });
    expect(limited.evaluation.images).toBe(1);
    const after = await server.ok(`query($id: ID!, $d: ID!) { model(id: $id) { score(datasetId: $d) } }`, { id: ids.identity, d: datasetId });
    expect(after.model.score).toBeCloseTo(MIOU, 12);
  });

  test("the CLI evaluates with a progress bar and prints the per-class table", async () => {
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
      expect(await main(["evaluate", "--model", ids.identity, "--dataset", datasetId, "--force"])).toBe(0);
    } finally {
      process.env.LAYERMERGE_URL = saved;
      spies.forEach((s) => s.mockRestore());
    }
    const text = err.join("\n");
    expect(text).toMatch(/evaluating .*100%/);
    // red 19/22 = 86.36 %, green 19/20 = 95.00 %, blue 22/24 = 91.67 %; mIoU 91.01 %
    expect(text).toMatch(/red\s+0\s+86\.36/);
    expect(text).toMatch(/green\s+1\s+95\.00/);
    expect(text).toMatch(/blue\s+2\s+91\.67/);
    expect(text).toMatch(/mIoU 91\.01/);
    expect(out.join("").trim()).toMatch(/^\w+$/);
  });

  test("leaderboard ranks by score (external scores included), and a merge's gain is shown, negative too", async () => {
    // Swapping the red and green rows predicts red as green and vice versa: only blue is right.
    // Confusion: label 0 → pred 1 (19), pred 2 (2); label 1 → pred 1 (1), pred 0 (19); label 2 → pred 2 (22).
    // IoU_0 = 0 / (21 + 19) = 0;  IoU_1 = 1 / (20 + 20 − 1) = 1/39;  IoU_2 = 22/24.
    await registerOnnx("swapped", writeOnnxModel(colourNet({ weight: [[0, 1, 0], [1, 0, 0], [0, 0, 1]] })).bytes);
    const swapped = await evaluate({ modelId: ids.swapped, datasetId });
    const swappedScore = (0 + 1 / 39 + 22 / 24) / 3;
    expect(swapped.evaluation.score).toBeCloseTo(swappedScore, 12);

    const other = (await server.ok(`mutation($t: ID!) { createModel(input: { name: "paper-model", taskId: $t }) { id } }`, { t: taskId })).createModel.id;
    const recorded = await server.ok(`mutation($i: RecordEvaluationInput!) { recordEvaluation(input: $i) { score external source } }`, { i: { modelId: other, datasetId, score: 0.5, source: "Table 3 of the paper" } });
    expect(recorded.recordEvaluation).toEqual({ score: 0.5, external: true, source: "Table 3 of the paper" });
    const badScore = await server.gql(`mutation($i: RecordEvaluationInput!) { recordEvaluation(input: $i) { id } }`, { i: { modelId: other, datasetId, score: 52.3, source: "x" } });
    expect(badScore.errors?.[0].extensions?.field).toBe("input.score");

    // UNIFORM soup of identity and swapped: W = [[.5,.5,0],[.5,.5,0],[0,0,1]] — red and green tie (argmax → red), and
    // near blue blocks the upsampled blue logit now wins; computed by the independent pipeline above.
    expect(expectedMiou([[1, 0, 0], [0, 1, 0], [0, 0, 1]], [0, 0, 0])).toBeCloseTo(MIOU, 12);
    expect(expectedMiou([[0, 1, 0], [1, 0, 0], [0, 0, 1]], [0, 0, 0])).toBeCloseTo((0 + 1 / 39 + 22 / 24) / 3, 12);
    const start = await server.ok(`mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, { i: { anchorId: ids.identity, modelIds: [ids.swapped], schedule: { kind: "UNIFORM" }, output: { name: "soup" } } });
    const mergeJob = await waitForJob(server, start.startMerge.id);
    expect(mergeJob.status).toBe("SUCCEEDED");
    const soupId = mergeJob.model.id;
    const soup = await evaluate({ modelId: soupId, datasetId });
    const soupScore = expectedMiou([[0.5, 0.5, 0], [0.5, 0.5, 0], [0, 0, 1]], [0, 0, 0]);
    expect(soup.evaluation.score).toBeCloseTo(soupScore, 12);

    const { leaderboard } = await server.ok(`query($d: ID!) { leaderboard(datasetId: $d) { totalCount edges { node { rank score model { name } merge { id } } } } }`, { d: datasetId });
    expect(leaderboard.edges.map((e: any) => [e.node.rank, e.node.model.name])).toEqual([[1, "identity"], [2, "paper-model"], [3, "soup"], [4, "swapped"]]);
    expect(leaderboard.edges[2].node.merge).not.toBeNull();
    const page2 = await server.ok(`query($d: ID!) { leaderboard(datasetId: $d, first: 2) { pageInfo { endCursor } } }`, { d: datasetId });
    const rest = await server.ok(`query($d: ID!, $a: String) { leaderboard(datasetId: $d, first: 2, after: $a) { edges { node { rank model { name } } } } }`, { d: datasetId, a: page2.leaderboard.pageInfo.endCursor });
    expect(rest.leaderboard.edges.map((e: any) => [e.node.rank, e.node.model.name])).toEqual([[3, "soup"], [4, "swapped"]]);

    const { model } = await server.ok(`query($id: ID!, $d: ID!) { model(id: $id) { merge { gain(datasetId: $d) { score bestParentScore vsBestParent perParent { model { name } score delta } } } } }`, { id: soupId, d: datasetId });
    const g = model.merge.gain;
    expect(g.vsBestParent).toBeCloseTo(soupScore - MIOU, 12);
    expect(g.vsBestParent).toBeLessThan(0);
    expect(g.perParent.map((p: any) => p.model.name)).toEqual(["identity", "swapped"]);
    expect(g.perParent[1].delta).toBeCloseTo(soupScore - swappedScore, 12);

    // Candidates with the same shared fraction are ordered by score on the anchor's target
    // dataset: all these models share one structure (fraction 1), so soup (scored higher) comes
    // before swapped, and the unscored models after them.
    await server.ok(`mutation($id: ID!, $d: ID!) { updateModel(id: $id, input: { targetDatasetId: $d }) { id } }`, { id: ids.identity, d: datasetId });
    const cands = await server.ok(`query($a: ID!) { mergeCandidates(anchorId: $a, first: 1) { totalCount pageInfo { endCursor } edges { node { model { name } sharedFraction } } } }`, { a: ids.identity });
    const more = await server.ok(`query($a: ID!, $c: String) { mergeCandidates(anchorId: $a, first: 50, after: $c) { edges { node { model { name } } } } }`, { a: ids.identity, c: cands.mergeCandidates.pageInfo.endCursor });
    const order = [...cands.mergeCandidates.edges, ...more.mergeCandidates.edges].map((e: any) => e.node.model.name);
    expect(order.slice(0, 2)).toEqual(["soup", "swapped"]);
    expect(order).toHaveLength(cands.mergeCandidates.totalCount);
    expect(new Set(order).size).toBe(order.length);

    // Sorting models by score on the dataset: scored first (best first), the unscored after.
    const sorted = await server.ok(`query($d: ID!) { models(orderBy: { field: SCORE, datasetId: $d }, first: 3) { edges { node { name } } pageInfo { endCursor } } }`, { d: datasetId });
    expect(sorted.models.edges.map((e: any) => e.node.name)).toEqual(["identity", "paper-model", "soup"]);
    const tail = await server.ok(`query($d: ID!, $a: String) { models(orderBy: { field: SCORE, datasetId: $d }, first: 10, after: $a) { edges { node { name } } } }`, { d: datasetId, a: sorted.models.pageInfo.endCursor });
    expect(tail.models.edges.map((e: any) => e.node.name)).toEqual(["swapped"]);
  });

  test("bad input: no contract, safetensors weights, mismatched image/label sizes, wrong outputs — clear errors, no rows", async () => {
    // Registration reads a contract from the file now; a model registered before that has none.
    const noContract = await registerOnnx("no-contract", writeOnnxModel(colourNet({ bias: [0.001, 0, 0] })).bytes, null);
    await server.app.services.database.prisma.$executeRaw`UPDATE "Model" SET "inference" = NULL WHERE "id" = ${noContract}`;
    const r1 = await server.gql(`mutation($i: StartEvaluationInput!) { startEvaluation(input: $i) { id } }`, { i: { modelId: noContract, datasetId } });
    expect(r1.errors?.[0].message).toMatch(/inference contract/);
    const st = await upload(server.origin, writeSafetensors([{ name: "w", dtype: "F32", shape: [2] }]));
    const stModel = (await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: "st", taskId, artifactSha256: st.body.sha256, inference: CONTRACT } })).registerModel.id;
    const r2 = await server.gql(`mutation($i: StartEvaluationInput!) { startEvaluation(input: $i) { id } }`, { i: { modelId: stModel, datasetId } });
    expect(r2.errors?.[0].message).toMatch(/ONNX/);

    const evaluationsBefore = await server.app.services.database.prisma.evaluation.count();
    // A model whose contract names an output it does not have.
    await registerOnnx("wrong-output", writeOnnxModel(colourNet({ bias: [0, 0.001, 0] })).bytes, { ...CONTRACT, outputs: [{ name: "scores", kind: "SEMANTIC_LOGITS" }] });
    const wrong = await evaluate({ modelId: ids["wrong-output"], datasetId });
    expect(wrong.status).toBe("FAILED");
    expect(wrong.errorCode).toBe("BAD_USER_INPUT");
    expect(wrong.error).toMatch(/scores/);

    // A dataset whose image and label sizes disagree, recorded without checks.
    const dir = path.join(root, "sizes");
    await blocksDataset(dir, 1);
    const sharp = (await import("sharp")).default;
    await sharp(Buffer.alloc(6 * 8), { raw: { width: 6, height: 8, channels: 1 } }).toColourspace("b-w").png().toFile(path.join(dir, "labels", "img0.png"));
    const sizes = (await createDataset("sizes", dir, { verify: false })).data.createDataset.id;
    const mismatched = await evaluate({ modelId: ids.identity, datasetId: sizes });
    expect(mismatched.status).toBe("FAILED");
    expect(mismatched.error).toMatch(/img0/);
    expect(await server.app.services.database.prisma.evaluation.count()).toBe(evaluationsBefore);
    // The server keeps serving.
    expect((await server.ok(`{ tasks { key } }`)).tasks).toHaveLength(1);
  });

  test("an IMAGES dataset is a folder of images without labels: counted and checksummed; evaluating on it is refused", async () => {
    const dir = path.join(root, "target-images");
    await blocksDataset(path.join(root, "with-labels"), 2);
    fs.mkdirSync(dir);
    for (const f of ["img0.png", "img1.png"]) fs.copyFileSync(path.join(root, "with-labels", "images", f), path.join(dir, f));
    fs.writeFileSync(path.join(dir, "README.txt"), "not an image");
    const created = await createDataset("target", dir, { format: "IMAGES" });
    expect(created.errors).toBeUndefined();
    const bytes = ["img0.png", "img1.png"].reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
    expect(created.data.createDataset).toMatchObject({ imageCount: 2, sizeBytes: bytes });
    const refused = await server.gql(`mutation($i: StartEvaluationInput!) { startEvaluation(input: $i) { id } }`, { i: { modelId: ids.identity, datasetId: created.data.createDataset.id } });
    expect(refused.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.datasetId" });
    expect(refused.errors?.[0].message).toMatch(/IMAGES dataset without labels/);
    fs.mkdirSync(path.join(root, "no-images"));
    const empty = await createDataset("empty", path.join(root, "no-images"), { format: "IMAGES" });
    expect(empty.errors?.[0].message).toMatch(/no images/);
  });
});
