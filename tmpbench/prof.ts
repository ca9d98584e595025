import * as path from "node:path";
import { runMerge, type RunMergePayload } from "../src/threads/runMerge";
import { openSession, sessionThreads } from "../src/runtime/openSession";
import { parseModelFile } from "../src/core/formats/parseModelFile";
import { layoutOf } from "../src/core/structure/layout";
import { loadSearchImages } from "../src/runtime/search/searchImages";
import { SharpDecoder } from "../src/imaging/sharpDecoder";
import { scoreCandidate } from "../src/runtime/search/scoreCandidate";
import { SearchSession } from "../src/runtime/search/searchSession";
import * as fs from "node:fs";
const DEMO = path.resolve(__dirname, "..", "examples", "demo");
async function main() {
  const manifest = JSON.parse(fs.readFileSync(path.join(DEMO, "manifest.json"), "utf8"));
  const m = manifest.models.find((x: any) => x.name === "source-only");
  const classes = manifest.datasets.find((d: any) => d.name === "synth-target-val").classes;
  const set = await loadSearchImages({ format: "SEMANTIC_PNG", location: path.join(DEMO, "datasets", "target", "val"), classes } as any, new SharpDecoder(), 50, true);
  const [anchor, contributor] = ["source-only.onnx", "augment.onnx"].map((f) => path.join(DEMO, "models", f));
  const [al, cl] = [anchor, contributor].map((f) => layoutOf(parseModelFile(f)));
  const payload: RunMergePayload = { anchor: { file: anchor, name: "a", layout: al }, contributors: [{ file: contributor, name: "c", layout: cl }], recipe: { method: "LAYERWISE", schedule: { kind: "LINEAR" }, weights: null, params: {} }, outFile: null, scratch: true, metadata: {} } as any;
  const t = async (label: string, fn: () => Promise<unknown>, n = 30) => {
    for (let i = 0; i < 3; i++) await fn();
    const c = process.cpuUsage(); const s = performance.now();
    for (let i = 0; i < n; i++) await fn();
    const u = process.cpuUsage(c);
    console.log(label.padEnd(30), ((performance.now() - s) / n).toFixed(2), "ms wall", ((u.user + u.system) / 1000 / n).toFixed(2), "ms cpu");
  };
  const merged = await runMerge(payload, () => undefined);
  await t("merge in memory", () => runMerge(payload, () => undefined));
  await t("openSession from bytes", async () => (await openSession("x", sessionThreads(1), merged.bytes!)).release());
  const ss = await SearchSession.open("x", m.inference, classes.length, sessionThreads(1), false, merged.bytes!);
  await t("50 × SearchSession.run", async () => { for (const img of set.images) await ss.run(img as any); }, 10);
  const raw = await openSession("x", sessionThreads(1), merged.bytes!);
  const ort = require("onnxruntime-node");
  const feed = new ort.Tensor("float32", new Float32Array(3 * 64 * 64), [1, 3, 64, 64]);
  await t("50 × bare run", async () => { for (let i = 0; i < 50; i++) await raw.run({ [raw.inputNames[0]]: feed }); }, 10);
  await t("scoreCandidate SCORE", () => scoreCandidate({ modelPath: "x", modelBytes: merged.bytes!, contract: m.inference, activation: "LOGITS", numClasses: classes.length, objective: { kind: "SCORE", set }, threads: 1 } as any), 10);
  await t("merge+scoreCandidate", async () => { const mm = await runMerge(payload, () => undefined); await scoreCandidate({ modelPath: "x", modelBytes: mm.bytes!, contract: m.inference, activation: "LOGITS", numClasses: classes.length, objective: { kind: "SCORE", set }, threads: 1 } as any); }, 10);
  await reducerProf(ss, set, classes.length);
  process.exit(0);
}
main();
export async function reducerProf(ss: any, set: any, C: number) {
  const { reduceOutput } = require("../src/runtime/search/outputReduction");
  const { OutputReducer } = require("../src/runtime/search/outputReducer");
  const outs = [] as any[];
  for (const img of set.images) outs.push(await ss.run(img));
  const red = (img: any) => ({ kind: "agreement", height: img.height, width: img.width, classes: C, reference: img.label, ignoreIndex: set.ignoreIndex });
  let c = process.cpuUsage(); let s = performance.now();
  for (let k = 0; k < 20; k++) outs.forEach((o, i) => reduceOutput(o, red(set.images[i])));
  let u = process.cpuUsage(c); console.log("50 × reduceOutput inline".padEnd(30), ((performance.now() - s) / 20).toFixed(2), "ms wall", ((u.user + u.system) / 1000 / 20).toFixed(2), "ms cpu");
  const r = OutputReducer.get();
  c = process.cpuUsage(); s = performance.now();
  for (let k = 0; k < 20; k++) { const ps = []; for (const [i, img] of set.images.entries()) { const o = await ss.run(img); ps.push(r.reduce(o, red(img))); } await Promise.all(ps); }
  u = process.cpuUsage(c); console.log("50 × run + reducer thread".padEnd(30), ((performance.now() - s) / 20).toFixed(2), "ms wall", ((u.user + u.system) / 1000 / 20).toFixed(2), "ms cpu");
  c = process.cpuUsage(); s = performance.now();
  for (let k = 0; k < 20; k++) { for (const [i, img] of set.images.entries()) { const o = await ss.run(img); reduceOutput(o, red(img)); } }
  u = process.cpuUsage(c); console.log("50 × run + inline reduce".padEnd(30), ((performance.now() - s) / 20).toFixed(2), "ms wall", ((u.user + u.system) / 1000 / 20).toFixed(2), "ms cpu");
}
