/**
 * Where an evaluation's time goes per image, stage by stage, each timed alone on the main thread
 * (no overlap), in process CPU time: decode image, decode label (sharp and FastPngDecoder), label → class ids, preprocess, session.run, logits →
 * label resolution + argmax, confusion matrix. For labels at the model's input size and at 2×.
 *
 * Run: node scripts/bench-eval.js --profile   (env: BENCH_IMAGES=20 images per size, BENCH_THREADS)
 */
import { mkdtempSync, rmSync } from "fs";
import { loadavg, tmpdir } from "os";
import { join } from "path";
import * as ort from "onnxruntime-node";
import { ConfusionMatrix, listDataset, loadSample, type DatasetSpec } from "../src/core/eval";
import { SharpDecoder } from "../src/imaging/sharpDecoder";
import { FastPngDecoder } from "../src/imaging/pngDecoder";
import { fastPreprocess } from "../src/runtime/fastPreprocess";
import { fastResizeArgmax } from "../src/runtime/fastResizeArgmax";
import { openSession, sessionThreads } from "../src/runtime";
import { SampleScorer } from "../src/runtime/SampleScorer";
import { buildBenchNet, BENCH_NET_CONTRACT, CLASSES, SIZE, writeBenchImages } from "./benchNet";

/** Process CPU time (all threads) in ms: each stage runs alone, so it is that stage's CPU, unlike wall time on a shared machine. */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const IMAGES = Number(process.env.BENCH_IMAGES ?? 20);

async function profile(modelPath: string, root: string, side: number): Promise<void> {
  await writeBenchImages(root, side, IMAGES);
  const spec: DatasetSpec = { format: "SEMANTIC_PNG", location: root, classes: Array.from({ length: CLASSES }, (_, id) => ({ id, name: `c${id}`, isThing: false })) };
  const index = await listDataset(spec);
  const sharpDecoder = new SharpDecoder();
  const decoder = new FastPngDecoder();
  const session = await openSession(modelPath, sessionThreads(process.env.BENCH_THREADS ? Number(process.env.BENCH_THREADS) : undefined));
  const cm = new ConfusionMatrix(CLASSES, 255);
  const t: Record<string, number> = { sharpImage: 0, sharpLabel: 0, decodeImage: 0, decodeLabel: 0, loadSample: 0, preprocess: 0, run: 0, resizeArgmax: 0, confusion: 0, scoreFused: 0 };
  const scorer = new SampleScorer(CLASSES, 255, spec.classes, false, {}, modelPath);
  const input = new Float32Array(3 * SIZE * SIZE);
  for (let i = 0; i < IMAGES; i++) {
    const e = index.entries[i];
    let t0 = cpuMs();
    await sharpDecoder.decode(join(root, e.image));
    t.sharpImage += cpuMs() - t0;
    t0 = cpuMs();
    await sharpDecoder.decode(join(root, e.label!));
    t.sharpLabel += cpuMs() - t0;
    t0 = cpuMs();
    await decoder.decode(join(root, e.image));
    t.decodeImage += cpuMs() - t0;
    t0 = cpuMs();
    await decoder.decode(join(root, e.label!));
    t.decodeLabel += cpuMs() - t0;
    t0 = cpuMs();
    const sample = await loadSample(root, spec.format, e, index.lookup, decoder);
    t.loadSample += cpuMs() - t0;
    t0 = cpuMs();
    fastPreprocess(sample.image, { ...BENCH_NET_CONTRACT, width: SIZE, height: SIZE }, input);
    t.preprocess += cpuMs() - t0;
    t0 = cpuMs();
    const out = await session.run({ image: new ort.Tensor("float32", input, [1, 3, SIZE, SIZE]) }, ["logits"]);
    t.run += cpuMs() - t0;
    const logits = out.logits.data as Float32Array;
    t0 = cpuMs();
    const pred = fastResizeArgmax(logits, CLASSES, SIZE, SIZE, sample.height, sample.width);
    t.resizeArgmax += cpuMs() - t0;
    t0 = cpuMs();
    if (sample.kind === "semantic") cm.add(pred, sample.label, sample.label.length);
    t.confusion += cpuMs() - t0;
    t0 = cpuMs();
    scorer.addLogits(sample, { data: logits, channels: CLASSES, height: SIZE, width: SIZE });
    t.scoreFused += cpuMs() - t0;
  }
  await session.release();
  console.log(`labels ${side}² (load ${loadavg().map((v) => v.toFixed(1)).join(" ")}), CPU ms per image over ${IMAGES}:`);
  for (const [k, v] of Object.entries(t)) console.log(`  ${k.padEnd(14)} ${(v / IMAGES).toFixed(1).padStart(7)}`);
  console.log(`  (sharp*: SharpDecoder; decode*: FastPngDecoder, the evaluation's; loadSample = both decodes + label → class ids; scoreFused = what the evaluation does instead of resizeArgmax + confusion)`);
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "lm-eval-profile-"));
  try {
    const { path } = buildBenchNet(join(root, "net.onnx"));
    await profile(path, join(root, "x1"), SIZE);
    await profile(path, join(root, "x2"), 2 * SIZE);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
