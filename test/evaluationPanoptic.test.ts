import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { upload } from "./support/http";
import { waitForJob } from "./support/jobs";
import { deepLabNet, panopticTableNet, writePng } from "../src/runtime/testing/evalFixtures";
import { writeOnnxModel } from "../src/core/formats/onnx/testing/onnxModelWriter";

/*
 * 8×4 scene (R road, G car, g car centre, B person, b person centre):
 *   R R R R R R R R / R G G R R G G R / R G g R R g G R / B B b B R R R R
 * Ground truth: road = the red pixels except (3,4) (19 px); car A rows 1–2 × cols 1–2; car B rows
 * 1–2 × cols 5–6; person = row 3 cols 0–3 plus (3,4) (5 px).
 * Predicted road covers 20 px (19 + (3,4)) → IoU 19/20; person 4 of 5 → 4/5.
 *  - PANOPTIC_IDS model (one instance per class): one car segment over both cars, IoU 4/8 with
 *    each — not > ½ — so car has 0 TP, 1 FP, 2 FN → PQ_car 0. PQ = (0.95 + 0 + 0.8) / 3.
 *  - Panoptic-DeepLab heads with centre heatmap peaks on g/b: cars split, each IoU 1 → PQ_car 1.
 *    PQ = (0.95 + 1 + 0.8) / 3.
 */
const IMAGE = (() => {
  const R = [255, 0, 0], G = [0, 255, 0], g = [0, 255, 128], B = [0, 0, 255], b = [0, 128, 255];
  return [[R, R, R, R, R, R, R, R], [R, G, G, R, R, G, G, R], [R, G, g, R, R, g, G, R], [B, B, b, B, R, R, R, R]];
})();
const GT = [[1, 1, 1, 1, 1, 1, 1, 1], [1, 2, 2, 1, 1, 3, 3, 1], [1, 2, 2, 1, 1, 3, 3, 1], [4, 4, 4, 4, 4, 1, 1, 1]];
const CLASSES = [
  { id: 0, name: "road", isThing: false, datasetId: 7 },
  { id: 1, name: "car", isThing: true, datasetId: 26 },
  { id: 2, name: "person", isThing: true, datasetId: 24 },
];
const BASE = { inputName: "image", width: 8, height: 4, resize: { mode: "FIXED" }, channelOrder: "RGB", mean: [0, 0, 0], std: [1, 1, 1] };

describe.each(databaseKinds)("panoptic evaluation through GraphQL (%s)", (kind) => {
  let server: TestServer;
  let root: string;

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "lm-pan-"));
    server = await startTestServer(kind, { LAYERMERGE_DATASET_ROOTS: root });
    const loc = path.join(root, "coco");
    fs.mkdirSync(loc, { recursive: true });
    fs.writeFileSync(path.join(loc, "panoptic_val.json"), JSON.stringify({
      images: [{ id: 1, file_name: "scene.png" }],
      annotations: [{ image_id: 1, file_name: "scene.png", segments_info: [
        { id: 1, category_id: 7, iscrowd: 0 }, { id: 2, category_id: 26, iscrowd: 0 }, { id: 3, category_id: 26, iscrowd: 0 }, { id: 4, category_id: 24, iscrowd: 0 },
      ] }],
      categories: [{ id: 7, name: "road", isthing: 0 }, { id: 26, name: "car", isthing: 1 }, { id: 24, name: "person", isthing: 1 }],
    }));
    await writePng(path.join(loc, "images", "scene.png"), 8, 4, 3, IMAGE.flat(2));
    await writePng(path.join(loc, "panoptic_val", "scene.png"), 8, 4, 3, GT.flat().flatMap((id) => [id, 0, 0]));
  });
  afterAll(async () => {
    await server.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  test("PANOPTIC_IDS and Panoptic-DeepLab models score the hand-computed PQ; isThing is checked against the JSON", async () => {
    const { createTask } = await server.ok(`mutation { createTask(input: { key: "pan", name: "Panoptic", kind: PANOPTIC, primaryMetric: PQ }) { id } }`);
    const taskId = createTask.id;
    const wrongThing = await server.gql(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, {
      i: { name: "coco-wrong", taskId, format: "COCO_PANOPTIC", location: path.join(root, "coco"), classes: CLASSES.map((c) => (c.id === 1 ? { ...c, isThing: false } : c)) },
    });
    expect(wrongThing.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(wrongThing.errors?.[0].message).toMatch(/car|26/);
    const { createDataset } = await server.ok(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id imageCount } }`, {
      i: { name: "coco", taskId, format: "COCO_PANOPTIC", location: path.join(root, "coco"), classes: CLASSES },
    });
    expect(createDataset.imageCount).toBe(1);

    const evaluate = async (name: string, bytes: Uint8Array, inference: unknown) => {
      const { body } = await upload(server.origin, bytes);
      const { registerModel } = await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name, taskId, artifactSha256: body.sha256, inference } });
      const { startEvaluation } = await server.ok(`mutation($i: StartEvaluationInput!) { startEvaluation(input: $i) { id } }`, { i: { modelId: registerModel.id, datasetId: createDataset.id } });
      await waitForJob(server, startEvaluation.id);
      return (await server.ok(`query($id: ID!) { job(id: $id) { status error message evaluation { score metrics perClass { name pq sq rq iou } } } }`, { id: startEvaluation.id })).job;
    };

    const ids = await evaluate("table", writeOnnxModel(panopticTableNet([0, 1001, 2001])).bytes, { ...BASE, outputs: [{ name: "panoptic", kind: "PANOPTIC_IDS" }] });
    expect(ids.status).toBe("SUCCEEDED");
    expect(ids.message).toMatch(/^PQ /);
    expect(ids.evaluation.score).toBeCloseTo((0.95 + 0 + 0.8) / 3, 12);
    expect(ids.evaluation.perClass.map((c: any) => c.pq)).toEqual([expect.closeTo(0.95, 12), 0, expect.closeTo(0.8, 12)]);

    const deeplab = await evaluate("deeplab", writeOnnxModel(deepLabNet([0, 1 / 128, 1 / 128], -255 / 128)).bytes, {
      ...BASE,
      outputs: [{ name: "semantic", kind: "PANOPTIC_SEMANTIC" }, { name: "center", kind: "PANOPTIC_CENTER" }, { name: "offset", kind: "PANOPTIC_OFFSET" }],
      postprocess: { nmsKernel: 3, centerThreshold: 0.5, offsetOrder: "YX" },
    });
    expect(deeplab.status).toBe("SUCCEEDED");
    expect(deeplab.evaluation.score).toBeCloseTo((0.95 + 1 + 0.8) / 3, 12);
    // things: car 1, person 0.8 → 0.9; stuff: road 0.95
    expect(deeplab.evaluation.metrics.pq.things.pq).toBeCloseTo(0.9, 12);
    expect(deeplab.evaluation.metrics.pq.stuff.pq).toBeCloseTo(0.95, 12);

    const { leaderboard } = await server.ok(`query($d: ID!) { leaderboard(datasetId: $d) { edges { node { model { name } score } } } }`, { d: createDataset.id });
    expect(leaderboard.edges.map((e: any) => e.node.model.name)).toEqual(["deeplab", "table"]);
  });
});
