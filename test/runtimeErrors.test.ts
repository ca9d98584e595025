/** @jest-environment ./test/support/ortEnvironment.js */
/**
 * Bad input fails with a DomainError whose message names the file or tensor at fault, and an
 * aborted signal ends the run with code CANCELLED.
 */
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import type { DatasetSpec } from "../src/core/eval";
import { DomainError } from "../src/core/errors";
import { evaluateModel, isResourceExhaustion, TransientRuntimeError, type EvaluateModelOptions, type RuntimeContract } from "../src/runtime";
import { argmaxNet, blockImage, colourNet, greedyNet, misshapenNet, writeModel, writePng, writeSemanticSample } from "../src/runtime/testing/evalFixtures";

const CLASSES = [
  { id: 0, name: "red", isThing: false },
  { id: 1, name: "green", isThing: false },
  { id: 2, name: "blue", isThing: false },
];
const CONTRACT: RuntimeContract = {
  inputName: "image",
  width: 4,
  height: 4,
  resize: { mode: "FIXED" },
  channelOrder: "RGB",
  mean: [0, 0, 0],
  std: [1, 1, 1],
  outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" }],
};

let root: string;
let good: DatasetSpec;
let model: string;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "lm-runtime-err-"));
  const img = blockImage([[0, 1], [2, 0]], 2);
  good = { format: "SEMANTIC_PNG", location: join(root, "good"), classes: CLASSES };
  for (const name of ["a", "b", "c", "d"]) await writeSemanticSample(good.location, name, 4, 4, img.rgb, img.classes);
  model = writeModel(join(root, "colour.onnx"), colourNet());
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function failure(options: Partial<EvaluateModelOptions>): Promise<DomainError> {
  try {
    await evaluateModel({ modelPath: model, contract: CONTRACT, dataset: good, task: "SEMANTIC", ...options });
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    return e as DomainError;
  }
  throw new Error("expected evaluateModel to fail");
}

async function datasetWith(name: string, write: (loc: string) => Promise<void>): Promise<DatasetSpec> {
  const loc = join(root, name);
  const img = blockImage([[0, 1], [2, 0]], 2);
  await writeSemanticSample(loc, "ok", 4, 4, img.rgb, img.classes);
  await write(loc);
  return { format: "SEMANTIC_PNG", location: loc, classes: CLASSES };
}

describe("evaluateModel, bad input", () => {
  it("an image whose size differs from its label", async () => {
    const dataset = await datasetWith("size", async (loc) => {
      await writePng(join(loc, "images", "z.png"), 4, 4, 3, new Array(48).fill(0));
      await writePng(join(loc, "labels", "z.png"), 4, 3, 1, new Array(12).fill(0));
    });
    const e = await failure({ dataset });
    expect(e.code).toBe("BAD_USER_INPUT");
    expect(e.message).toMatch(/labels\/z\.png is 4×3 but its image images\/z\.png is 4×4/);
  });

  it("label values outside the class list that are not the ignore index", async () => {
    const dataset = await datasetWith("values", async (loc) => {
      await writePng(join(loc, "images", "z.png"), 2, 1, 3, new Array(6).fill(0));
      await writePng(join(loc, "labels", "z.png"), 2, 1, 1, [7, 255]);
    });
    const e = await failure({ dataset });
    expect(e.message).toMatch(/labels\/z\.png has label values outside the class list .*: 7 \(1 px\)/);
  });

  it("a missing pair", async () => {
    const dataset = await datasetWith("pair", async (loc) => {
      await writePng(join(loc, "images", "lonely.png"), 2, 1, 3, new Array(6).fill(0));
    });
    const e = await failure({ dataset });
    expect(e.message).toMatch(/dataset at .* has 1 problem\(s\): images\/lonely\.png: .*label/);
  });

  it("an unreadable file", async () => {
    const dataset = await datasetWith("unreadable", async (loc) => {
      writeFileSync(join(loc, "images", "z.png"), "not a png");
      await writePng(join(loc, "labels", "z.png"), 2, 1, 1, [0, 0]);
    });
    const e = await failure({ dataset });
    expect(e.message).toMatch(/images\/z\.png cannot be decoded/);
  });

  it("a model file onnxruntime cannot load", async () => {
    const bad = join(root, "garbage.onnx");
    writeFileSync(bad, "this is not a model");
    const e = await failure({ modelPath: bad });
    expect(e.message).toContain(`model ${bad} cannot be loaded by onnxruntime`);
  });

  it("a contract output the model does not have", async () => {
    const e = await failure({ contract: { ...CONTRACT, outputs: [{ name: "seg", kind: "SEMANTIC_LOGITS" }] } });
    expect(e.message).toMatch(/has no output "seg" \(contract output SEMANTIC_LOGITS\); its outputs are "logits"/);
    expect(e.field).toBe("inference.outputs.0.name");
  });

  it("a contract input the model does not have", async () => {
    const e = await failure({ contract: { ...CONTRACT, inputName: "pixel_values" } });
    expect(e.message).toMatch(/has no input "pixel_values"; its inputs are "image"/);
  });

  it("an output of the wrong rank or type for its kind", async () => {
    const ids = writeModel(join(root, "argmax.onnx"), argmaxNet());
    const e = await failure({ modelPath: ids, contract: { ...CONTRACT, outputs: [{ name: "ids", kind: "SEMANTIC_LOGITS" }] } });
    expect(e.message).toMatch(/output "ids" \(SEMANTIC_LOGITS\) is int64; expected float32/);
    const rank2 = writeModel(join(root, "flat.onnx"), {
      inputs: [{ name: "image", dtype: "F32", shape: ["N", 3, "H", "W"] }],
      outputs: [{ name: "logits", dtype: "F32", shape: ["N", 3] }],
      nodes: [{ opType: "GlobalAveragePool", inputs: ["image"], outputs: ["pooled"] }, { opType: "Flatten", inputs: ["pooled"], outputs: ["logits"] }],
      initializers: [],
    });
    const e2 = await failure({ modelPath: rank2 });
    expect(e2.message).toMatch(/output "logits" \(SEMANTIC_LOGITS\) has shape \[N, 3\]; expected \[N, C, H, W\]/);
  });

  it("a channel count that differs from the number of classes — from metadata, or from the real tensor when the metadata is symbolic", async () => {
    const four = { ...good, classes: [...CLASSES, { id: 3, name: "grey", isThing: false }] };
    const e = await failure({ dataset: four });
    expect(e.message).toMatch(/output "logits" \(SEMANTIC_LOGITS\) has 3 channels but the dataset has 4 classes/);
    const symbolic = writeModel(join(root, "symbolic.onnx"), colourNet({ outputShape: ["N", "C", "H", "W"] }));
    const e2 = await failure({ modelPath: symbolic, dataset: four });
    expect(e2.message).toMatch(/output "logits" \(SEMANTIC_LOGITS\) has 3 channels but the dataset has 4 classes/);
  });

  it("a model fixed to another input size than the contract's", async () => {
    const fixed = writeModel(join(root, "fixed8.onnx"), colourNet({ inputShape: ["N", 3, 8, 8], outputShape: ["N", 3, 8, 8] }));
    const e = await failure({ modelPath: fixed });
    expect(e.message).toMatch(/model input "image" is fixed to 8×8 \(width×height\), which differs from the contract's width × height, 4×4/);
  });

  it("a PANOPTIC evaluation without panoptic outputs or dataset", async () => {
    expect((await failure({ task: "PANOPTIC" })).message).toMatch(/needs a COCO_PANOPTIC dataset/);
    expect((await failure({ task: "PANOPTIC", dataset: { ...good, format: "COCO_PANOPTIC" } })).message).toMatch(/needs a PANOPTIC_IDS output or the three Panoptic-DeepLab outputs/);
  });

  it("bad options: class subset, batch size, limit", async () => {
    expect((await failure({ classes: [0, 5] })).field).toBe("classes.1");
    expect((await failure({ batchSize: 0 })).field).toBe("batchSize");
    expect((await failure({ limit: -1 })).field).toBe("limit");
  });

  it("cancellation: an aborted signal ends the run with CANCELLED, before or during the run", async () => {
    const before = new AbortController();
    before.abort();
    expect((await failure({ signal: before.signal })).code).toBe("CANCELLED");
    const during = new AbortController();
    const seen: number[] = [];
    const e = await failure({
      signal: during.signal,
      onProgress: (done) => {
        seen.push(done);
        if (done === 1) during.abort();
      },
    });
    expect(e.code).toBe("CANCELLED");
    expect(seen[0]).toBe(1);
    expect(seen.length).toBeLessThan(4);
  });
});

describe("evaluateModel, onnxruntime failing: the model's fault or the machine's", () => {
  async function rejection(modelFile: string): Promise<Error> {
    try {
      await evaluateModel({ modelPath: modelFile, contract: CONTRACT, dataset: good, task: "SEMANTIC" });
    } catch (e) {
      return e as Error;
    }
    throw new Error("expected evaluateModel to fail");
  }

  it("a graph that cannot run on the input is bad input (not retried)", async () => {
    const file = writeModel(join(root, "misshapen.onnx"), misshapenNet());
    const e = await rejection(file);
    expect(e).toBeInstanceOf(DomainError);
    expect((e as DomainError).code).toBe("BAD_USER_INPUT");
    expect(e.message).toContain(`onnxruntime could not run model ${file} on input "image" of shape [1, 3, 4, 4]`);
    expect(e.message).toMatch(/reshape/i);
  });

  it("running out of memory is transient: not a DomainError, so the job layer retries it", async () => {
    const file = writeModel(join(root, "greedy.onnx"), greedyNet());
    const e = await rejection(file);
    expect(e).not.toBeInstanceOf(DomainError);
    expect(e).toBeInstanceOf(TransientRuntimeError);
    expect(e.message).toContain(`onnxruntime could not run model ${file} on input "image" of shape [1, 3, 4, 4]`);
    expect(e.message).toMatch(/Failed to allocate memory for requested buffer of size 211106232532992/);
  });

  it("the messages onnxruntime and Node give for exhausted resources are told apart from model faults", () => {
    for (const transient of [
      "/onnxruntime_src/onnxruntime/core/framework/bfc_arena.cc:360 void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, onnxruntime::Stream*) Failed to allocate memory for requested buffer of size 4800000000",
      "std::bad_alloc",
      "ENOMEM: not enough memory, read",
      "EMFILE: too many open files, open '/data/model.onnx'",
      "Worker terminated due to reaching memory limit: JS heap out of memory",
      "pthread_create failed: Resource temporarily unavailable",
    ]) {
      expect({ message: transient, transient: isResourceExhaustion(transient) }).toEqual({ message: transient, transient: true });
    }
    for (const fault of [
      "Failed to load model because protobuf parsing failed.",
      "Load model from /nonexistent.onnx failed:Load model /nonexistent.onnx failed. File doesn't exist",
      "Non-zero status code returned while running Reshape node. Name:'' Status Message: The input tensor cannot be reshaped to the requested shape. Input shape:{1,3,4,4}, requested shape:{1,3,5,7}",
      "Got invalid dimensions for input: image for the following indices index: 2 Got: 5 Expected: 4",
      "Could not find an implementation for MyOp(1) node with name ''",
    ]) {
      expect({ message: fault, transient: isResourceExhaustion(fault) }).toEqual({ message: fault, transient: false });
    }
  });
});
