import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { openDatabase } from "../src/persistence/database";

/*
 * `npm run demo` end to end on a fresh data folder, checked against an independent computation:
 * examples/demo/merge_check.py merged the same ONNX weights in PyTorch (float64, the layer-wise
 * formula of docs/CONVENTIONS.md) and scored them with its own evaluation code. The registry's
 * merges and evaluations must agree with those numbers (to float32 rounding of the merged weights).
 */
const ROOT = path.resolve(__dirname, "..");
const check = JSON.parse(fs.readFileSync(path.join(ROOT, "examples", "demo", "merge_check.json"), "utf8"));

describe("npm run demo", () => {
  jest.setTimeout(240_000);
  test("registers, merges and evaluates the toy task; scores match the PyTorch cross-check", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-demo-"));
    try {
      const out = execFileSync(process.execPath, [path.join(ROOT, "scripts", "demo.js")], {
        cwd: ROOT,
        env: { ...process.env, LAYERMERGE_DATA_DIR: dir, DATABASE_URL: "", REDIS_URL: "", LOG_LEVEL: "warn" },
        encoding: "utf8",
      });
      expect(out).toMatch(/done in/);
      const db = await openDatabase(`file:${path.join(dir, "layermerge.db")}`, { migrate: false });
      try {
        const score = async (model: string, dataset: string) => {
          const row = await db.prisma.modelScore.findFirst({ where: { model: { name: model }, dataset: { name: dataset } } });
          return row?.score ?? null;
        };
        // Trained models: every one ≥ 0.8 mIoU on its own source validation split, and the
        // registry's target scores equal PyTorch's.
        for (const [name, ref] of Object.entries<any>(check.models)) {
          const panoptic = name === "panoptic";
          const src = await db.prisma.evaluation.findFirst({ where: { model: { name }, dataset: { name: panoptic ? "synth-source-val-panoptic" : "synth-source-val" }, canonical: true } });
          expect((src!.metrics as any).mIoU).toBeGreaterThanOrEqual(0.8);
          const tgt = await score(name, panoptic ? "synth-target-val-panoptic" : "synth-target-val");
          expect({ name, tgt }).toEqual({ name, tgt: expect.closeTo(panoptic ? ref.targetVal.PQ : ref.targetVal.mIoU, 6) });
        }
        // The PyTorch checkpoint of selftrain's weights, evaluated through selftrain.onnx, scores as
        // selftrain itself (which the loop above checked against PyTorch).
        expect(await score("selftrain-pth", "synth-target-val")).toBeCloseTo(check.models.selftrain.targetVal.mIoU, 6);
        expect(await score("selftrain-pth", "synth-target-val")).toBe(await score("selftrain", "synth-target-val"));
        expect(out).toMatch(/selftrain-pth through selftrain\.onnx: target mIoU .*identical/);
        for (const merge of check.merges.filter((m: any) => m.label !== "cross-arch uniform fcn<-mlp")) {
          const name = `demo-${merge.label.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}`;
          const panoptic = merge.anchor === "panoptic";
          const tgt = await score(name, panoptic ? "synth-target-val-panoptic" : "synth-target-val");
          const expected = panoptic ? merge.targetVal.PQ : merge.targetVal.mIoU;
          expect({ merge: merge.label, diff: Math.abs(tgt! - expected) < 2e-3 }).toEqual({ merge: merge.label, diff: true });
        }
      } finally {
        await db.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
