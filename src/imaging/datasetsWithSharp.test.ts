import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { dirname, join } from "path";
import sharp from "sharp";
import { PanopticSample, SemanticSample } from "../core/eval/datasets/datasetTypes";
import { readDataset } from "../core/eval/datasets/readDataset";
import { validateDataset } from "../core/eval/datasets/validateDataset";
import { SharpDecoder } from "./sharpDecoder";

/** The dataset readers on real PNG/JPEG files written with sharp. */
describe("dataset readers with SharpDecoder", () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "lm-sharp-ds-"));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const decoder = new SharpDecoder();

  async function png(path: string, w: number, h: number, channels: 1 | 3, values: number[]) {
    mkdirSync(dirname(path), { recursive: true });
    const img = sharp(Buffer.from(values), { raw: { width: w, height: h, channels } });
    await (channels === 1 ? img.toColourspace("b-w") : img).png().toFile(path);
  }

  it("reads a SEMANTIC_PNG dataset with a JPEG image and a grey label", async () => {
    const loc = join(root, "sem");
    mkdirSync(join(loc, "images"), { recursive: true });
    await sharp({ create: { width: 3, height: 2, channels: 3, background: { r: 10, g: 20, b: 30 } } }).jpeg().toFile(join(loc, "images", "a.jpg"));
    await png(join(loc, "labels", "a.png"), 3, 2, 1, [0, 1, 255, 1, 1, 0]);
    const spec = { format: "SEMANTIC_PNG" as const, location: loc, classes: [{ id: 0, name: "bg", isThing: false }, { id: 1, name: "fg", isThing: true }] };
    const report = await validateDataset(spec, decoder);
    expect(report).toMatchObject({ ok: true, images: 1, classPixels: { 0: 2, 1: 3 } });
    const samples: SemanticSample[] = [];
    for await (const x of readDataset(spec, decoder)) samples.push(x as SemanticSample);
    expect(samples).toHaveLength(1);
    expect(samples[0].kind).toBe("semantic");
    expect(Array.from(samples[0].label)).toEqual([0, 1, 255, 1, 1, 0]);
    expect(samples[0].image).toMatchObject({ width: 3, height: 2, channels: 3 });
  });

  it("reports an RGB label and a label with a foreign value", async () => {
    const loc = join(root, "bad");
    await png(join(loc, "images", "a.png"), 1, 1, 3, [0, 0, 0]);
    await png(join(loc, "labels", "a.png"), 1, 1, 3, [1, 2, 3]);
    await png(join(loc, "images", "b.png"), 2, 1, 3, [0, 0, 0, 0, 0, 0]);
    await png(join(loc, "labels", "b.png"), 2, 1, 1, [0, 9]);
    const report = await validateDataset({ format: "SEMANTIC_PNG", location: loc, classes: [{ id: 0, name: "bg", isThing: false }] }, decoder);
    expect(report.problems).toEqual([
      { file: "labels/a.png", message: expect.stringMatching(/3 channels; labels must be single-channel/) },
      { file: "labels/b.png", message: expect.stringMatching(/outside the class list .*: 9 \(1 px\)/) },
    ]);
  });

  it("reads COCO panoptic ids from RGB PNGs", async () => {
    const loc = join(root, "coco");
    mkdirSync(loc, { recursive: true });
    writeFileSync(
      join(loc, "panoptic_val.json"),
      JSON.stringify({
        images: [{ id: 1, file_name: "x.png" }],
        annotations: [{ image_id: 1, file_name: "x.png", segments_info: [{ id: 65536 * 2 + 3, category_id: 1, iscrowd: 0 }] }],
        categories: [{ id: 1, name: "person", isthing: 1 }],
      }),
    );
    await png(join(loc, "images", "x.png"), 2, 1, 3, [9, 9, 9, 9, 9, 9]);
    await png(join(loc, "panoptic_val", "x.png"), 2, 1, 3, [3, 0, 2, 0, 0, 0]); // id 3 + 65536·2 = 131075, then void
    const spec = { format: "COCO_PANOPTIC" as const, location: loc, classes: [{ id: 0, name: "person", isThing: true, datasetId: 1 }] };
    expect((await validateDataset(spec, decoder)).ok).toBe(true);
    const samples: PanopticSample[] = [];
    for await (const x of readDataset(spec, decoder)) samples.push(x as PanopticSample);
    expect(samples).toHaveLength(1);
    expect(Array.from(samples[0].panoptic.ids)).toEqual([131075, 0]);
    expect(Array.from(samples[0].label)).toEqual([0, 255]);
  });
});
