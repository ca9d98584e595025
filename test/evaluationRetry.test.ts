import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startTestServer, TestServer } from "./support/testServer";
import { upload } from "./support/http";
import { waitForJob } from "./support/jobs";
import { blockImage, greedyNet, misshapenNet, writeSemanticSample } from "../src/runtime/testing/evalFixtures";
import { writeOnnxModel } from "../src/core/formats/onnx/testing/onnxModelWriter";

/*
 * An evaluation job whose onnxruntime run fails: for lack of memory it is retried (the failure may
 * pass) and, once its attempts are spent, fails as INTERNAL; for a fault of the model it fails at
 * once as BAD_USER_INPUT. Embedded runner, LAYERMERGE_JOB_ATTEMPTS = 2.
 */
describe("evaluation jobs when onnxruntime fails (embedded)", () => {
  let server: TestServer;
  let root: string;
  let taskId: string;
  let datasetId: string;
  const contract = { inputName: "image", width: 4, height: 4, resize: { mode: "FIXED" }, mean: [0, 0, 0], std: [1, 1, 1], outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" }] };

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "lm-eval-retry-"));
    server = await startTestServer("sqlite", { LAYERMERGE_JOB_ATTEMPTS: "2", LAYERMERGE_DATASET_ROOTS: root });
    taskId = (await server.ok(`mutation { createTask(input: { key: "sem", name: "Semantic", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    const img = blockImage([[0, 1], [2, 0]], 2);
    await writeSemanticSample(path.join(root, "blocks"), "a", img.width, img.height, img.rgb, img.classes);
    const classes = [{ id: 0, name: "red", isThing: false }, { id: 1, name: "green", isThing: false }, { id: 2, name: "blue", isThing: false }];
    datasetId = (await server.ok(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, { i: { name: "blocks", taskId, format: "SEMANTIC_PNG", location: path.join(root, "blocks"), classes } })).createDataset.id;
  });
  afterAll(async () => {
    await server?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  const evaluate = async (name: string, bytes: Uint8Array) => {
    const { body } = await upload(server.origin, bytes);
    const { registerModel } = await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name, taskId, artifactSha256: body.sha256, inference: contract } });
    const { startEvaluation } = await server.ok(`mutation($i: StartEvaluationInput!) { startEvaluation(input: $i) { id } }`, { i: { modelId: registerModel.id, datasetId } });
    return waitForJob(server, startEvaluation.id);
  };

  test("out of memory: retried, then failed as INTERNAL once the attempts are spent", async () => {
    const job = await evaluate("greedy", writeOnnxModel(greedyNet()).bytes);
    expect(job).toMatchObject({ status: "FAILED", errorCode: "INTERNAL", attempts: 2 });
    expect(job.error).toMatch(/Failed to allocate memory for requested buffer/);
  });

  test("a model that cannot run: failed once as BAD_USER_INPUT", async () => {
    const job = await evaluate("misshapen", writeOnnxModel(misshapenNet()).bytes);
    expect(job).toMatchObject({ status: "FAILED", errorCode: "BAD_USER_INPUT", attempts: 1 });
    expect(job.error).toMatch(/reshape/i);
  });
});
