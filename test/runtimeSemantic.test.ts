/** @jest-environment ./test/support/ortEnvironment.js */
/**
 * evaluateModel on real PNG datasets and real onnxruntime sessions, semantic paths. The models
 * are chosen so that predictions follow from the pixels drawn (a 1×1 identity Conv predicts the
 * strongest colour channel), and every expected score is worked out by hand below.
 */
import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import type { DatasetSpec } from "../src/core/eval";
import { checkInferenceContract } from "../src/services/inferenceContract";
import { evaluateModel, type RuntimeContract } from "../src/runtime";
import { argmaxNet, blockImage, colourNet, windowMeanNet, writeModel, writeSemanticSample } from "../src/runtime/testing/evalFixtures";

const CLASSES = [
  { id: 0, name: "red", isThing: false },
  { id: 1, name: "green", isThing: false },
  { id: 2, name: "blue", isThing: true },
];

const contract = (over: Partial<RuntimeContract> = {}): RuntimeContract => ({
  inputName: "image",
  width: 4,
  height: 4,
  resize: { mode: "FIXED" },
  channelOrder: "RGB",
  mean: [10, 20, 30],
  std: [2, 2, 2],
  outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" }],
  ...over,
});

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "lm-runtime-sem-"));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * Dataset "blocks": one 8×8 image of 2×2-pixel blocks (0 red, 1 green, 2 blue):
 *   0 0 1 1
 *   0 0 1 1
 *   2 2 2 2
 *   2 2 0 1
 * Red 5 blocks = 20 px, green 20 px, blue 24 px. Resized to the 4×4 model input each model pixel
 * is one block's colour (half-pixel taps at 2x+0.5 stay inside the block); upsampling the logits
 * back to 8×8 gives every pixel ≥ 0.75·0.75 of its own block's logit, so the prediction is the
 * block colour. The label is the block colour except: pixel (0,0) labelled 1 (it is red),
 * pixels (4,0) and (4,1) labelled 0 (they are blue), pixel (7,7) ignored (255).
 */
const BLOCKS = [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 2, 2], [2, 2, 0, 1]];
async function blocksDataset(name: string, copies = 1): Promise<DatasetSpec> {
  const loc = join(root, name);
  const img = blockImage(BLOCKS, 2);
  const label = [...img.classes];
  label[0] = 1;
  label[4 * 8 + 0] = 0;
  label[4 * 8 + 1] = 0;
  label[7 * 8 + 7] = 255;
  for (let i = 0; i < copies; i++) await writeSemanticSample(loc, `img${i}`, img.width, img.height, img.rgb, label);
  return { format: "SEMANTIC_PNG", location: loc, classes: CLASSES };
}

// RGB, per class over the 63 counted pixels:
//   class 0: predicted on 20 red px (19 labelled 0, 1 labelled 1); 2 blue px labelled 0
//            → TP 19, FP 1, FN 2 → IoU 19/22
//   class 1: predicted on 19 counted green px, all labelled 1; pixel (0,0) labelled 1 is red
//            → TP 19, FP 0, FN 1 → IoU 19/20
//   class 2: predicted on 24 blue px, 22 labelled 2 → TP 22, FP 2, FN 0 → IoU 22/24
const RGB_IOU = [19 / 22, 19 / 20, 22 / 24];

describe("evaluateModel, semantic", () => {
  it("FIXED, RGB: resizes the image to the input, logits back to label resolution, scores by hand", async () => {
    const dataset = await blocksDataset("fixed");
    const modelPath = writeModel(join(root, "colour.onnx"), colourNet());
    const progress: Array<[number, number, number | null]> = [];
    const r = await evaluateModel({ modelPath, contract: contract(), dataset, task: "SEMANTIC", threads: 1, onProgress: (d, t, e) => progress.push([d, t, e]) });
    expect(r.perClass.map((c) => c.iou)).toEqual(RGB_IOU.map((v) => expect.closeTo(v, 12)));
    expect(r.score).toBeCloseTo((19 / 22 + 19 / 20 + 22 / 24) / 3, 12);
    expect(r.metrics.aAcc).toBeCloseTo(60 / 63, 12); // 19 + 19 + 22 correct of 63 counted
    expect(r.metrics.pixels).toBe(63);
    expect(r.images).toBe(1);
    expect(r.settings).toMatchObject({ batchSize: 1, intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: "sequential", allowSpinning: false, outputs: ["logits"] });
    expect(progress).toEqual([[1, 1, 0]]);
    expect(r.perClass.map((c) => c.name)).toEqual(["red", "green", "blue"]);
  });

  it("BGR: the same model sees the channels reversed, so red blocks are class 2 and blue class 0", async () => {
    const dataset = await blocksDataset("bgr");
    const modelPath = writeModel(join(root, "colour-bgr.onnx"), colourNet());
    const r = await evaluateModel({ modelPath, contract: contract({ channelOrder: "BGR" }), dataset, task: "SEMANTIC" });
    // predicted 2 on red (19 labelled 0, 1 labelled 1), 1 on green (19 labelled 1), 0 on blue (22 labelled 2, 2 labelled 0)
    //   class 0: TP 2, FP 22, FN 19 → 2/43;  class 1: TP 19, FP 0, FN 1 → 19/20;  class 2: TP 0 → 0
    expect(r.perClass.map((c) => c.iou)).toEqual([expect.closeTo(2 / 43, 12), expect.closeTo(19 / 20, 12), 0]);
    expect(r.score).toBeCloseTo((2 / 43 + 19 / 20) / 3, 12);
  });

  it("mIoU over a class subset averages only those classes; per-class values cover all", async () => {
    const dataset = await blocksDataset("subset");
    const modelPath = writeModel(join(root, "colour-subset.onnx"), colourNet());
    const r = await evaluateModel({ modelPath, contract: contract(), dataset, task: "SEMANTIC", classes: [0, 2] });
    expect(r.score).toBeCloseTo((19 / 22 + 22 / 24) / 2, 12);
    expect(r.metrics.classSubset).toEqual([0, 2]);
    expect(r.perClass[1].iou).toBeCloseTo(19 / 20, 12);
  });

  it("batches: five copies in batches of 2 give the single image's scores (one confusion matrix, 5× the counts)", async () => {
    const dataset = await blocksDataset("batch", 5);
    const modelPath = writeModel(join(root, "colour-batch.onnx"), colourNet());
    const progress: number[] = [];
    const r = await evaluateModel({ modelPath, contract: contract(), dataset, task: "SEMANTIC", batchSize: 2, onProgress: (d, t) => progress.push(d * 10 + t) });
    expect(r.perClass.map((c) => c.iou)).toEqual(RGB_IOU.map((v) => expect.closeTo(v, 12)));
    expect(r.metrics.pixels).toBe(5 * 63);
    expect(r.images).toBe(5);
    expect(r.settings.batchSize).toBe(2);
    expect(progress).toEqual([15, 25, 35, 45, 55]);
    const limited = await evaluateModel({ modelPath, contract: contract(), dataset, task: "SEMANTIC", batchSize: 2, limit: 3 });
    expect(limited.images).toBe(3);
    expect(limited.metrics.pixels).toBe(3 * 63);
  });

  it("SEMANTIC_IDS: class ids are resized nearest to label resolution", async () => {
    const dataset = await blocksDataset("ids");
    const modelPath = writeModel(join(root, "argmax.onnx"), argmaxNet());
    const r = await evaluateModel({ modelPath, contract: contract({ outputs: [{ name: "ids", kind: "SEMANTIC_IDS" }] }), dataset, task: "SEMANTIC" });
    // nearest 4→8 takes block ⌊x/2⌋: the same prediction as the logits path
    expect(r.perClass.map((c) => c.iou)).toEqual(RGB_IOU.map((v) => expect.closeTo(v, 12)));
  });

  it("accepts a contract normalised by the services layer (enums are the runtime's string unions)", async () => {
    const dataset = await blocksDataset("services");
    const modelPath = writeModel(join(root, "colour-svc.onnx"), colourNet());
    const checked = checkInferenceContract({ inputName: "image", width: 4, height: 4, mean: [10, 20, 30], std: [2, 2, 2], outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" }] });
    const r = await evaluateModel({ modelPath, contract: checked, dataset, task: "SEMANTIC" });
    expect(r.score).toBeCloseTo((19 / 22 + 19 / 20 + 22 / 24) / 3, 12);
  });

  it("normalization reaches the runtime: the same pixels tie under DIVIDE and not under MMCV", async () => {
    // Red and green channels hold the same byte, mean 0, std 3 and 3 − 1e-7 (both 3.0 as float32).
    // DIVIDE divides by the float32 std, so R and G normalise to the same float32 and the identity
    // model's logits tie (argmax: class 0). MMCV multiplies by the float64 1/std: for x = 5,
    // 5 · (1/(3 − 1e-7)) = 1.66666672222…, nearest float32 1.66666675 (0x3FD55556), above
    // 5 · (1/3) = 1.66666666…, nearest float32 1.66666663 (0x3FD55555), so green wins; for x = 6 both
    // give exactly 2 and tie again (numpy and OpenCV give the same, see make_normalization_fixtures.py).
    // 4×4 image at the model's size: left half (R, G, B) = (5, 5, 0), right half (6, 6, 0); all labelled 1.
    //   DIVIDE: class 0 everywhere → class 1 IoU 0;  MMCV: class 1 on the left 8 px → IoU 8/16.
    const loc = join(root, "rounding");
    const rgb: number[] = [];
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) rgb.push(...(x < 2 ? [5, 5, 0] : [6, 6, 0]));
    await writeSemanticSample(loc, "a", 4, 4, rgb, new Array(16).fill(1));
    const modelPath = writeModel(join(root, "colour-rounding.onnx"), colourNet());
    const dataset = { format: "SEMANTIC_PNG" as const, location: loc, classes: CLASSES };
    const base = { inputName: "image", width: 4, height: 4, mean: [0, 0, 0], std: [3, 3 - 1e-7, 3], outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" }] };
    const iou1 = async (normalization?: "DIVIDE" | "MMCV") => (await evaluateModel({ modelPath, contract: checkInferenceContract({ ...base, normalization: normalization as never }), dataset, task: "SEMANTIC" })).perClass[1].iou;
    expect(await iou1("DIVIDE")).toBe(0);
    expect(await iou1("MMCV")).toBe(0.5);
    expect(await iou1()).toBe(0); // the default is DIVIDE
    // a contract stored before the field existed (no `normalization` key) runs as DIVIDE too
    const { normalization: _dropped, ...stored } = checkInferenceContract({ ...base, normalization: "MMCV" as never });
    expect((await evaluateModel({ modelPath, contract: stored, dataset, task: "SEMANTIC" })).perClass[1].iou).toBe(0);
  });

  it("KEEP_RATIO: 12×8 images go in at 6×4 (a model fixed to [1, 3, 4, 6]); batch size falls back to 1 with a note", async () => {
    // Image a: left half red, right half blue; image b: top half green, bottom half red (halves on
    // even pixels, so each 2×2 block stays one colour). keepRatioSize(12, 8, 6, 6): f = min(6/12,
    // 6/8) = 0.5 → 6×4 — exactly the model's fixed size (a FIXED 6×6 resize would not run).
    // Labels are the colours except b's top-left 2×2 block, labelled 2 (blue) though green.
    //   class 0: 48 + 48 px, all right → IoU 1;  class 1: pred 48, 44 labelled 1 → 44/48;
    //   class 2: pred 48 (a's right half), gt 52 → 48/52.
    const loc = join(root, "keep");
    const a = blockImage([[0, 0, 0, 2, 2, 2], [0, 0, 0, 2, 2, 2], [0, 0, 0, 2, 2, 2], [0, 0, 0, 2, 2, 2]], 2);
    const b = blockImage([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]], 2);
    const bLabel = [...b.classes];
    for (const [y, x] of [[0, 0], [0, 1], [1, 0], [1, 1]]) bLabel[y * 12 + x] = 2;
    await writeSemanticSample(loc, "a", 12, 8, a.rgb, a.classes);
    await writeSemanticSample(loc, "b", 12, 8, b.rgb, bLabel);
    const modelPath = writeModel(join(root, "colour-fixed.onnx"), colourNet({ inputShape: [1, 3, 4, 6], outputShape: [1, 3, 4, 6] }));
    const r = await evaluateModel({
      modelPath,
      contract: contract({ width: 6, height: 6, resize: { mode: "KEEP_RATIO" } }),
      dataset: { format: "SEMANTIC_PNG", location: loc, classes: CLASSES },
      task: "SEMANTIC",
      batchSize: 4,
    });
    expect(r.perClass.map((c) => c.iou)).toEqual([1, expect.closeTo(44 / 48, 12), expect.closeTo(48 / 52, 12)]);
    expect(r.settings.batchSize).toBe(1);
    expect(r.notes).toEqual([expect.stringMatching(/"image" has a fixed batch size of 1; ran batches of 1 instead of 4/)]);
  });

  it("KEEP_RATIO into a larger fixed input: the image is zero-padded and only its part of the logits is used", async () => {
    // 12×6, left half red, right half green → keep-ratio 6×3, padded to the model's 6×6. Were the
    // padding rows used, or the logits not cropped, green pixels would turn red (zeros tie → 0).
    const loc = join(root, "pad");
    const img = blockImage([[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1]], 2);
    await writeSemanticSample(loc, "a", 12, 6, img.rgb, img.classes);
    const modelPath = writeModel(join(root, "colour-6x6.onnx"), colourNet({ inputShape: ["N", 3, 6, 6], outputShape: ["N", 3, 6, 6] }));
    const r = await evaluateModel({ modelPath, contract: contract({ width: 6, height: 6, resize: { mode: "KEEP_RATIO" }, mean: [0, 0, 0], std: [1, 1, 1] }), dataset: { format: "SEMANTIC_PNG", location: loc, classes: CLASSES }, task: "SEMANTIC" });
    expect(r.perClass.map((c) => c.iou)).toEqual([1, 1, null]);
    expect(r.score).toBe(1);
  });

  it("SLIDE: averages overlapping windows' logits as mmseg slide_inference (checked against a float64 loop)", async () => {
    // Model: logits = x + mean over the window, so each window predicts differently and the
    // average matters. 8×6 image of pseudo-random colours; crop [4, 4], stride [2, 3].
    const W = 8;
    const H = 6;
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const rgb = Array.from({ length: W * H * 3 }, () => Math.floor(rand() * 256));
    const label = Array.from({ length: W * H }, (_, i) => (i % 11 === 5 ? 255 : Math.floor(rand() * 3)));
    const loc = join(root, "slide");
    await writeSemanticSample(loc, "a", W, H, rgb, label);
    const modelPath = writeModel(join(root, "window-mean.onnx"), windowMeanNet());
    const mean = [100, 110, 120];
    const std = [50, 60, 70];

    // Independent reference: windows per mmseg (h_grids = ⌈(6−4)/2⌉+1 = 2 → y 0,2; w_grids = ⌈(8−4)/3⌉+1 = 3 → x 0,3,4).
    const windows: Array<[number, number]> = [];
    for (const y of [0, 2]) for (const x of [0, 3, 4]) windows.push([y, x]);
    const x = (c: number, y: number, xx: number) => (rgb[(y * W + xx) * 3 + c] - mean[c]) / std[c];
    const sum = new Float64Array(3 * H * W);
    const count = new Float64Array(H * W);
    for (const [wy, wx] of windows) {
      for (let c = 0; c < 3; c++) {
        let m = 0;
        for (let y = wy; y < wy + 4; y++) for (let xx = wx; xx < wx + 4; xx++) m += x(c, y, xx) / 16;
        for (let y = wy; y < wy + 4; y++) for (let xx = wx; xx < wx + 4; xx++) sum[(c * H + y) * W + xx] += x(c, y, xx) + m;
      }
      for (let y = wy; y < wy + 4; y++) for (let xx = wx; xx < wx + 4; xx++) count[y * W + xx] += 1;
    }
    const pred = Array.from({ length: H * W }, (_, i) => {
      const v = [0, 1, 2].map((c) => sum[c * H * W + i] / count[i]);
      const sorted = [...v].sort((p, q) => q - p);
      expect(sorted[0] - sorted[1]).toBeGreaterThan(1e-4); // no near-ties that float32 could flip
      return v.indexOf(sorted[0]);
    });
    const iou = [0, 1, 2].map((c) => {
      let tp = 0;
      let union = 0;
      label.forEach((l, i) => {
        if (l === 255) return;
        if (l === c && pred[i] === c) tp++;
        if (l === c || pred[i] === c) union++;
      });
      return tp / union;
    });

    const r = await evaluateModel({
      modelPath,
      contract: contract({ width: 8, height: 6, resize: { mode: "SLIDE", cropSize: [4, 4], stride: [2, 3] }, mean, std }),
      dataset: { format: "SEMANTIC_PNG", location: loc, classes: CLASSES },
      task: "SEMANTIC",
      batchSize: 4,
    });
    expect(r.perClass.map((c) => c.iou)).toEqual(iou.map((v) => expect.closeTo(v, 12)));

    // The window averaging is visible: one window over the whole image predicts something else.
    const whole = await evaluateModel({ modelPath, contract: contract({ width: 8, height: 6, resize: { mode: "FIXED" }, mean, std }), dataset: { format: "SEMANTIC_PNG", location: loc, classes: CLASSES }, task: "SEMANTIC" });
    expect(whole.perClass.map((c) => c.iou)).not.toEqual(r.perClass.map((c) => c.iou));
  });
});
