import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { upload } from "./support/http";
import { waitForJob } from "./support/jobs";
import { argmaxNet, blockImage, colourNet, writeSemanticSample } from "../src/runtime/testing/evalFixtures";
import { writeOnnxModel } from "../src/core/formats/onnx/testing/onnxModelWriter";

const CLASSES = [
  { id: 0, name: "red", isThing: false },
  { id: 1, name: "green", isThing: false },
  { id: 2, name: "blue", isThing: true },
];
const CONTRACT_FIELDS = `inputName width height resize { mode } channelOrder mean std normalization outputs { name kind } inferred notes missing`;

describe.each(databaseKinds)("an ONNX model registered without a contract (%s)", (kind) => {
  let server: TestServer;
  let root: string;
  let taskId: string;
  let datasetId: string;

  const register = async (name: string, bytes: Uint8Array, inference?: unknown) => {
    const { body } = await upload(server.origin, bytes);
    const { registerModel } = await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id inference { ${CONTRACT_FIELDS} } } }`, {
      i: { name, taskId, artifactSha256: body.sha256, ...(inference ? { inference } : {}) },
    });
    return registerModel as { id: string; inference: Record<string, any> };
  };
  const evaluate = async (modelId: string) => {
    const { startEvaluation } = await server.ok(`mutation($i: StartEvaluationInput!) { startEvaluation(input: $i) { id } }`, { i: { modelId, datasetId } });
    await waitForJob(server, startEvaluation.id);
    return (await server.ok(`query($id: ID!) { job(id: $id) { status error evaluation { score images } } }`, { id: startEvaluation.id })).job;
  };

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "lm-inferred-"));
    server = await startTestServer(kind, { LAYERMERGE_DATASET_ROOTS: root });
    taskId = (await server.ok(`mutation { createTask(input: { key: "sem", name: "Semantic", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    // 8×8 images of 2×2 blocks (red, green, blue), labelled with their colours but for one pixel.
    const img = blockImage([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 2, 2], [2, 2, 0, 1]], 2);
    for (let i = 0; i < 2; i++) {
      const label = [...img.classes];
      label[0] = 1;
      await writeSemanticSample(path.join(root, "blocks"), `img${i}`, img.width, img.height, img.rgb, label);
    }
    const { createDataset } = await server.ok(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, {
      i: { name: "blocks", taskId, format: "SEMANTIC_PNG", location: path.join(root, "blocks"), classes: CLASSES },
    });
    datasetId = createDataset.id;
  });
  afterAll(async () => {
    await server.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  test("is evaluated end to end with the contract read from the file, scoring as the equivalent explicit contract", async () => {
    // A static 4×4 input and an output named "seg": neither is today's default (512×512, "logits").
    const bytes = writeOnnxModel(colourNet({ inputShape: [1, 3, 4, 4], outputShape: [1, 3, 4, 4], outputName: "seg" })).bytes;
    const inferred = await register("read-from-file", bytes);
    expect(inferred.inference).toMatchObject({
      inputName: "image",
      width: 4,
      height: 4,
      resize: { mode: "FIXED" },
      channelOrder: "RGB",
      mean: [123.675, 116.28, 103.53],
      std: [58.395, 57.12, 57.375],
      normalization: "DIVIDE",
      outputs: [{ name: "seg", kind: "SEMANTIC_LOGITS" }],
      inferred: true,
      missing: [],
    });
    expect(inferred.inference.notes).toEqual([expect.stringMatching(/^channelOrder, mean, std, normalization: .*mmsegmentation/)]);

    const explicit = await register("written-by-hand", bytes, {
      inputName: "image", width: 4, height: 4, resize: { mode: "FIXED" }, channelOrder: "RGB",
      mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375], normalization: "DIVIDE", outputs: [{ name: "seg", kind: "SEMANTIC_LOGITS" }],
    });
    expect(explicit.inference).toMatchObject({ inferred: false, notes: [], missing: [] });

    const a = await evaluate(inferred.id);
    const b = await evaluate(explicit.id);
    expect(a.status).toBe("SUCCEEDED");
    expect(b.status).toBe("SUCCEEDED");
    expect(a.evaluation.images).toBe(2);
    expect(a.evaluation.score).toBe(b.evaluation.score);
    // Each model pixel is one 2×2 block and every upsampled pixel keeps its block's colour (its
    // nearest source pixel weighs 3/4). Red 20 px predicted, 19 labelled (pixel 0 is labelled
    // green): IoU 19/20; green 20 predicted, 21 labelled: 20/21; blue 24 of 24.
    expect(a.evaluation.score).toBeCloseTo((19 / 20 + 20 / 21 + 1) / 3, 12);
  });

  test("a dynamic input takes KEEP_RATIO at 2048×512, and given fields win field by field", async () => {
    const bytes = writeOnnxModel(colourNet({ outputName: "out" })).bytes;
    const dynamic = await register("dynamic", bytes);
    expect(dynamic.inference).toMatchObject({ width: 2048, height: 512, resize: { mode: "KEEP_RATIO" }, outputs: [{ name: "out", kind: "SEMANTIC_LOGITS" }], inferred: true });
    expect(dynamic.inference.notes).toContainEqual(expect.stringMatching(/2048×512/));

    // Evaluated at that scale (the 8×8 images become 512×512), as the same contract written out.
    const explicit = await register("dynamic-explicit", bytes, { width: 2048, height: 512, resize: { mode: "KEEP_RATIO" }, outputs: [{ name: "out", kind: "SEMANTIC_LOGITS" }] });
    const [a, b] = [await evaluate(dynamic.id), await evaluate(explicit.id)];
    expect([a.status, b.status]).toEqual(["SUCCEEDED", "SUCCEEDED"]);
    expect(a.evaluation.score).toBe(b.evaluation.score);

    const sized = await register("dynamic-sized", bytes, { width: 8, height: 8, resize: { mode: "FIXED" }, mean: [0, 0, 0] });
    expect(sized.inference).toMatchObject({ inputName: "image", width: 8, height: 8, resize: { mode: "FIXED" }, mean: [0, 0, 0], std: [58.395, 57.12, 57.375], outputs: [{ name: "out", kind: "SEMANTIC_LOGITS" }], inferred: true });
    expect(sized.inference.notes).not.toContainEqual(expect.stringMatching(/2048×512/));
  });

  test("a model whose head cannot be read says so when evaluated, and an update giving it keeps the rest", async () => {
    const twoHeads = colourNet({ inputShape: [1, 3, 4, 4], outputShape: [1, 3, 4, 4], outputName: "main" });
    twoHeads.nodes.push({ opType: "Identity", inputs: ["main"], outputs: ["aux"] });
    twoHeads.outputs.push({ name: "aux", dtype: "F32", shape: [1, 3, 4, 4] });
    const model = await register("two-heads", writeOnnxModel(twoHeads).bytes);
    expect(model.inference.missing).toEqual([expect.stringMatching(/^outputs: the outputs \("main" .*"aux".*\) are not/)]);

    const refused = await server.gql(`mutation($i: StartEvaluationInput!) { startEvaluation(input: $i) { id } }`, { i: { modelId: model.id, datasetId } });
    expect(refused.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(refused.errors?.[0].extensions?.field).toBe("model.inference.outputs");
    expect(refused.errors?.[0].message).toMatch(/two-heads@1: its inference contract could not be read from the file — outputs: /);

    const { updateModel } = await server.ok(`mutation($id: ID!, $i: UpdateModelInput!) { updateModel(id: $id, input: $i) { inference { ${CONTRACT_FIELDS} } } }`, {
      id: model.id,
      i: { inference: { outputs: [{ name: "main", kind: "SEMANTIC_LOGITS" }] } },
    });
    expect(updateModel.inference).toMatchObject({ inputName: "image", width: 4, height: 4, resize: { mode: "FIXED" }, outputs: [{ name: "main", kind: "SEMANTIC_LOGITS" }], inferred: true, missing: [] });
    expect((await evaluate(model.id)).status).toBe("SUCCEEDED");
  });

  test("an integer [N, H, W] output holds class ids for a semantic task and panoptic ids for a panoptic one", async () => {
    const bytes = writeOnnxModel(argmaxNet()).bytes;
    expect((await register("ids", bytes)).inference.outputs).toEqual([{ name: "ids", kind: "SEMANTIC_IDS" }]);
    const panoptic = (await server.ok(`mutation { createTask(input: { key: "pan", name: "Panoptic", kind: PANOPTIC, primaryMetric: PQ }) { id } }`)).createTask.id;
    const { body } = await upload(server.origin, bytes);
    const { registerModel } = await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { inference { outputs { name kind } } } }`, {
      i: { name: "panoptic-ids", taskId: panoptic, artifactSha256: body.sha256 },
    });
    expect(registerModel.inference.outputs).toEqual([{ name: "ids", kind: "PANOPTIC_IDS" }]);
  });

  test("a model created without a file keeps the documented defaults", async () => {
    const { createModel } = await server.ok(`mutation($i: CreateModelInput!) { createModel(input: $i) { inference { ${CONTRACT_FIELDS} } } }`, {
      i: { name: "no-file", taskId, inference: { inputName: "x" } },
    });
    expect(createModel.inference).toMatchObject({ inputName: "x", width: 512, height: 512, resize: { mode: "FIXED" }, outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" }], inferred: false, notes: [] });
  });
});
