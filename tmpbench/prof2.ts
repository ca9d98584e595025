import * as path from "node:path";
import * as fs from "node:fs";
import { runMerge, type RunMergePayload } from "../src/threads/runMerge";
import { sessionThreads } from "../src/runtime/openSession";
import { parseModelFile } from "../src/core/formats/parseModelFile";
import { layoutOf } from "../src/core/structure/layout";
import { loadSearchImages } from "../src/runtime/search/searchImages";
import { SharpDecoder } from "../src/imaging/sharpDecoder";
import { SearchSession } from "../src/runtime/search/searchSession";
const DEMO = path.resolve(__dirname, "..", "examples", "demo");
async function main() {
  const manifest = JSON.parse(fs.readFileSync(path.join(DEMO, "manifest.json"), "utf8"));
  const m = manifest.models.find((x: any) => x.name === "source-only");
  const classes = manifest.datasets.find((d: any) => d.name === "synth-target-val").classes;
  const set = await loadSearchImages({ format: "SEMANTIC_PNG", location: path.join(DEMO, "datasets", "target", "val"), classes } as any, new SharpDecoder(), 50, true);
  const ss = await SearchSession.open(path.join(DEMO, "models", "source-only.onnx"), m.inference, classes.length, sessionThreads(1));
  const s = performance.now();
  for (let k = 0; k < 200; k++) for (const img of set.images) await ss.run(img as any);
  console.log("per image", (performance.now() - s) / 200 / 50);
  process.exit(0);
}
main();
