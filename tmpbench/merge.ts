import * as path from "node:path";
import { runMerge, type RunMergePayload } from "../src/threads/runMerge";
import { parseModelFile } from "../src/core/formats/parseModelFile";
import { layoutOf } from "../src/core/structure/layout";
const DEMO = path.resolve(__dirname, "..", "examples", "demo");
async function main() {
  const [anchor, contributor] = ["source-only.onnx", "augment.onnx"].map((f) => path.join(DEMO, "models", f));
  const [al, cl] = [anchor, contributor].map((f) => layoutOf(parseModelFile(f)));
  const payload: RunMergePayload = { anchor: { file: anchor, name: "a", layout: al }, contributors: [{ file: contributor, name: "c", layout: cl }], recipe: { method: "LAYERWISE", schedule: { kind: "LINEAR" }, weights: null, params: {} }, outFile: null, scratch: true, metadata: {} } as any;
  for (let i = 0; i < 50; i++) await runMerge(payload, () => undefined);
  const c = process.cpuUsage(); const s = performance.now();
  for (let i = 0; i < 300; i++) await runMerge(payload, () => undefined);
  const u = process.cpuUsage(c);
  console.log("merge", ((performance.now() - s) / 300).toFixed(2), "ms wall", ((u.user + u.system) / 300000).toFixed(2), "ms cpu");
}
main();
