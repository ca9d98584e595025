/** @jest-environment ./test/support/ortEnvironment.js */
/**
 * evaluateModel on a COCO_PANOPTIC dataset: a PANOPTIC_IDS model and a Panoptic-DeepLab
 * three-output model, PQ worked out by hand from the drawn image.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import type { DatasetSpec } from "../src/core/eval";
import { evaluateModel, type RuntimeContract } from "../src/runtime";
import { deepLabNet, panopticTableNet, writeModel, writePng } from "../src/runtime/testing/evalFixtures";

/**
 * 8×4 image (R road red, G car green, g car center (0,255,128), B person blue, b person center (0,128,255)):
 *   row 0: R R R R R R R R
 *   row 1: R G G R R G G R
 *   row 2: R G g R R g G R
 *   row 3: B B b B R R R R
 * Ground truth: road (segment 1) = the red pixels except (3,4) → 19 px; car A (2) = rows 1–2 ×
 * cols 1–2; car B (3) = rows 1–2 × cols 5–6; person (4) = row 3 cols 0–3 plus (3,4) → 5 px.
 */
const W = 8;
const H = 4;
const R = [255, 0, 0];
const G = [0, 255, 0];
const g = [0, 255, 128];
const B = [0, 0, 255];
const b = [0, 128, 255];
const IMAGE = [
  [R, R, R, R, R, R, R, R],
  [R, G, G, R, R, G, G, R],
  [R, G, g, R, R, g, G, R],
  [B, B, b, B, R, R, R, R],
];
const GT = [
  [1, 1, 1, 1, 1, 1, 1, 1],
  [1, 2, 2, 1, 1, 3, 3, 1],
  [1, 2, 2, 1, 1, 3, 3, 1],
  [4, 4, 4, 4, 4, 1, 1, 1],
];
const CLASSES = [
  { id: 0, name: "road", isThing: false, datasetId: 7 },
  { id: 1, name: "car", isThing: true, datasetId: 26 },
  { id: 2, name: "person", isThing: true, datasetId: 24 },
];

let root: string;
let dataset: DatasetSpec;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "lm-runtime-pan-"));
  const loc = join(root, "coco");
  mkdirSync(loc, { recursive: true });
  writeFileSync(
    join(loc, "panoptic_val.json"),
    JSON.stringify({
      images: [{ id: 1, file_name: "scene.png" }],
      annotations: [
        {
          image_id: 1,
          file_name: "scene.png",
          segments_info: [
            { id: 1, category_id: 7, iscrowd: 0 },
            { id: 2, category_id: 26, iscrowd: 0 },
            { id: 3, category_id: 26, iscrowd: 0 },
            { id: 4, category_id: 24, iscrowd: 0 },
          ],
        },
      ],
      categories: [
        { id: 7, name: "road", isthing: 0 },
        { id: 26, name: "car", isthing: 1 },
        { id: 24, name: "person", isthing: 1 },
      ],
    }),
  );
  await writePng(join(loc, "images", "scene.png"), W, H, 3, IMAGE.flat(2));
  await writePng(join(loc, "panoptic_val", "scene.png"), W, H, 3, GT.flat().flatMap((id) => [id, 0, 0])); // id = R + 256·G + 256²·B
  dataset = { format: "COCO_PANOPTIC", location: loc, classes: CLASSES };
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const contract = (over: Partial<RuntimeContract>): RuntimeContract => ({
  inputName: "image",
  width: W,
  height: H,
  resize: { mode: "FIXED" },
  channelOrder: "RGB",
  mean: [0, 0, 0],
  std: [1, 1, 1],
  outputs: [],
  ...over,
});

// Semantic part, both models: road predicted on 20 px (19 road + (3,4)), car on the 8 green
// px, person on the 4 blue → road 19/20, car 8/8, person 4/5.
const SEMANTIC_IOU = [19 / 20, 1, 4 / 5];

describe("evaluateModel, panoptic", () => {
  it("PANOPTIC_IDS: one car segment covering both cars matches neither (IoU 4/8 is not > ½)", async () => {
    // table[argmax]: road → 0·1000, car → 1·1000 + 1, person → 2·1000 + 1
    const modelPath = writeModel(join(root, "table.onnx"), panopticTableNet([0, 1001, 2001]));
    const r = await evaluateModel({ modelPath, contract: contract({ outputs: [{ name: "panoptic", kind: "PANOPTIC_IDS" }] }), dataset, task: "PANOPTIC" });
    // road: IoU 19/20 = 0.95, TP;  car: FN 2 (A, B), FP 1 → PQ 0;  person: IoU 4/5, TP
    expect(r.perClass.map((c) => [c.pq, c.tp, c.fp, c.fn])).toEqual([
      [expect.closeTo(0.95, 12), 1, 0, 0],
      [0, 0, 1, 2],
      [expect.closeTo(0.8, 12), 1, 0, 0],
    ]);
    expect(r.score).toBeCloseTo((0.95 + 0 + 0.8) / 3, 12);
    expect(r.metrics.pq!.things).toEqual({ pq: expect.closeTo(0.4, 12), sq: expect.closeTo(0.4, 12), rq: expect.closeTo(0.5, 12), n: 2 });
    expect(r.metrics.pq!.stuff.pq).toBeCloseTo(0.95, 12);
    expect(r.metrics.pq!.all.rq).toBeCloseTo(2 / 3, 12);
    expect(r.perClass.map((c) => c.iou)).toEqual(SEMANTIC_IOU.map((v) => expect.closeTo(v, 12)));
  });

  it("Panoptic-DeepLab heads: centers from the heatmap split the cars; post-processing settings come from the contract", async () => {
    // center = Relu((G + B − 255) / 128): exactly 1 on the three center pixels (255 + 128 − 255 =
    // 128), 0 elsewhere (pure green or blue gives 0; every value exact in float32). Offsets are 0,
    // so each thing pixel joins its nearest center: car A pixels are nearer (2,2) than the person
    // center (3,2) (e.g. (2,1): 1 vs √2), person pixels nearer (3,2) (e.g. (3,0): 2 vs √5).
    // Segments: road 20 px, car A, car B, person 4 px.
    //   road 0.95 (TP), car 2 TP with IoU 1 → PQ 1, person 0.8 (TP)
    const modelPath = writeModel(join(root, "deeplab.onnx"), deepLabNet([0, 1 / 128, 1 / 128], -255 / 128));
    const r = await evaluateModel({
      modelPath,
      contract: contract({
        outputs: [
          { name: "semantic", kind: "PANOPTIC_SEMANTIC" },
          { name: "center", kind: "PANOPTIC_CENTER" },
          { name: "offset", kind: "PANOPTIC_OFFSET" },
        ],
        postprocess: { nmsKernel: 3, centerThreshold: 0.5, offsetOrder: "YX" },
      }),
      dataset,
      task: "PANOPTIC",
    });
    expect(r.perClass.map((c) => [c.pq, c.tp, c.fp, c.fn])).toEqual([
      [expect.closeTo(0.95, 12), 1, 0, 0],
      [1, 2, 0, 0],
      [expect.closeTo(0.8, 12), 1, 0, 0],
    ]);
    expect(r.score).toBeCloseTo((0.95 + 1 + 0.8) / 3, 12);
    expect(r.metrics.pq!.things.pq).toBeCloseTo(0.9, 12);
    expect(r.perClass.map((c) => c.iou)).toEqual(SEMANTIC_IOU.map((v) => expect.closeTo(v, 12)));
    expect(r.settings.outputs).toEqual(["semantic", "center", "offset"]);

    // Centers must exceed the threshold strictly, so 1 leaves no instance: thing pixels become
    // void, car and person are all misses (FN), road keeps its 0.95.
    const none = await evaluateModel({
      modelPath,
      contract: contract({
        outputs: [
          { name: "semantic", kind: "PANOPTIC_SEMANTIC" },
          { name: "center", kind: "PANOPTIC_CENTER" },
          { name: "offset", kind: "PANOPTIC_OFFSET" },
        ],
        postprocess: { nmsKernel: 3, centerThreshold: 1 },
      }),
      dataset,
      task: "PANOPTIC",
    });
    expect(none.perClass.map((c) => [c.tp, c.fp, c.fn])).toEqual([[1, 0, 0], [0, 0, 2], [0, 0, 1]]);
    expect(none.score).toBeCloseTo(0.95 / 3, 12);
  });

  it("a SEMANTIC evaluation of a panoptic model reads its semantic part", async () => {
    const modelPath = writeModel(join(root, "table-sem.onnx"), panopticTableNet([0, 1001, 2001]));
    const r = await evaluateModel({ modelPath, contract: contract({ outputs: [{ name: "panoptic", kind: "PANOPTIC_IDS" }] }), dataset, task: "SEMANTIC" });
    expect(r.score).toBeCloseTo((19 / 20 + 1 + 4 / 5) / 3, 12);
    expect(r.metrics.pq).toBeUndefined();
  });
});
