import { createHash } from "crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { dirname, join } from "path";
import { DatasetClass, DatasetSpec, PanopticSample, SemanticSample } from "./datasetTypes";
import { DecodedImage, ImageDecoder } from "./ImageDecoder";
import { readDataset } from "./readDataset";
import { readImages } from "./readImages";
import { validateDataset } from "./validateDataset";

/** Decoder over an in-memory table: core tests stay free of sharp (src/imaging tests use it). */
class TableDecoder implements ImageDecoder {
  readonly images = new Map<string, DecodedImage>();
  decoded: string[] = [];
  async decode(path: string): Promise<DecodedImage> {
    const img = this.images.get(path);
    if (!img) throw new Error("corrupt file");
    this.decoded.push(path);
    return img;
  }
}

let root: string;
let n = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "lm-datasets-"));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A fresh dataset folder; `put` writes a file (content = its name unless given) and registers its pixels. */
function dataset() {
  const location = join(root, `d${n++}`);
  const decoder = new TableDecoder();
  const put = (rel: string, img?: DecodedImage, content: string = rel) => {
    const path = join(location, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
    if (img) decoder.images.set(path, img);
  };
  return { location, decoder, put };
}
const grey = (w: number, h: number, values: number[]): DecodedImage => ({ width: w, height: h, channels: 1, data: Uint8Array.from(values) });
const rgb = (w: number, h: number): DecodedImage => ({ width: w, height: h, channels: 3, data: new Uint8Array(w * h * 3) });

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

// Cityscapes-like: train ids 0 (road, stuff) and 1 (car, thing) stored as label values 7 and 26
const classes: DatasetClass[] = [
  { id: 0, name: "road", isThing: false, datasetId: 7 },
  { id: 1, name: "car", isThing: true, datasetId: 26 },
];

describe("SEMANTIC_PNG", () => {
  it("pairs images/ and labels/ by name and maps dataset ids to class ids", async () => {
    const d = dataset();
    d.put("images/a.png", rgb(2, 2));
    d.put("images/sub/b.jpg", rgb(1, 2));
    d.put("labels/a.png", grey(2, 2, [7, 26, 255, 7]));
    d.put("labels/sub/b.png", grey(1, 2, [26, 26]));
    d.put("images/notes.txt");
    const spec: DatasetSpec = { format: "SEMANTIC_PNG", location: d.location, classes, ignoreIndex: 255 };
    const samples = (await collect(readDataset(spec, d.decoder))) as SemanticSample[];
    expect(samples.map((s) => s.name)).toEqual(["a", "sub/b"]);
    expect(Array.from(samples[0].label)).toEqual([0, 1, 255, 0]);
    expect(Array.from(samples[1].label)).toEqual([1, 1]);
    expect(samples[0]).toMatchObject({ kind: "semantic", width: 2, height: 2, imagePath: join(d.location, "images/a.png") });
    expect(await collect(readDataset(spec, d.decoder, { limit: 1 }))).toHaveLength(1);
  });

  it("streams: decodes a pair only when the consumer asks for it", async () => {
    const d = dataset();
    for (const s of ["a", "b", "c"]) {
      d.put(`images/${s}.png`, rgb(1, 1));
      d.put(`labels/${s}.png`, grey(1, 1, [7]));
    }
    const it = readDataset({ format: "SEMANTIC_PNG", location: d.location, classes }, d.decoder)[Symbol.asyncIterator]();
    await it.next();
    expect(d.decoder.decoded).toHaveLength(2);
    await it.next();
    expect(d.decoder.decoded).toHaveLength(4);
  });

  it("uses the folders named in dataset.json and checksums every file", async () => {
    const d = dataset();
    d.put("dataset.json", undefined, JSON.stringify({ images: "rgb", labels: "gt/fine" }));
    d.put("rgb/x.png", rgb(1, 1), "AAA");
    d.put("gt/fine/x.png", grey(1, 1, [255]), "BB");
    d.put("images/y.png", rgb(1, 1)); // not a dataset file under this manifest
    const report = await validateDataset({ format: "SEMANTIC_PNG", location: d.location, classes }, d.decoder);
    expect(report).toMatchObject({ ok: true, images: 1, problems: [], classPixels: { 0: 0, 1: 0 } });
    // independent framing: sorted paths, each `path \0 length \0 bytes`
    const manifest = JSON.stringify({ images: "rgb", labels: "gt/fine" });
    const stream = `dataset.json\0${manifest.length}\0${manifest}` + `gt/fine/x.png\0${2}\0BB` + `rgb/x.png\0${3}\0AAA`;
    expect(report.checksum).toBe(createHash("sha256").update(stream).digest("hex"));
    expect(report.totalBytes).toBe(manifest.length + 2 + 3);
  });

  it("reports each bad file: missing pairs, sizes, foreign label values, undecodable files", async () => {
    const d = dataset();
    d.put("images/ok.png", rgb(2, 1));
    d.put("labels/ok.png", grey(2, 1, [7, 26]));
    d.put("images/lonely.png", rgb(1, 1));
    d.put("labels/orphan.png", grey(1, 1, [7]));
    d.put("images/big.png", rgb(3, 1));
    d.put("labels/big.png", grey(2, 1, [7, 7]));
    d.put("images/odd.png", rgb(3, 1));
    d.put("labels/odd.png", grey(3, 1, [7, 3, 3]));
    d.put("images/broken.png", rgb(1, 1));
    d.put("labels/broken.png"); // not decodable
    const report = await validateDataset({ format: "SEMANTIC_PNG", location: d.location, classes, ignoreIndex: 255 }, d.decoder);
    expect(report.ok).toBe(false);
    expect(report.images).toBe(4);
    const byFile = Object.fromEntries(report.problems.map((p) => [p.file, p.message]));
    expect(Object.keys(byFile).sort()).toEqual(["images/lonely.png", "labels/big.png", "labels/broken.png", "labels/odd.png", "labels/orphan.png"]);
    expect(byFile["images/lonely.png"]).toMatch(/has no label labels\/lonely\.png/);
    expect(byFile["labels/orphan.png"]).toMatch(/has no image/);
    expect(byFile["labels/big.png"]).toMatch(/is 2×1 but its image images\/big\.png is 3×1/);
    expect(byFile["labels/odd.png"]).toMatch(/values outside the class list .* ignore index 255: 3 \(2 px\)/);
    expect(byFile["labels/broken.png"]).toMatch(/cannot be decoded/);
    // pixels per class over the readable pairs: ok.png road 1, car 1
    expect(report.classPixels).toEqual({ 0: 1, 1: 1 });
    await expect(collect(readDataset({ format: "SEMANTIC_PNG", location: d.location, classes }, d.decoder))).rejects.toThrow(/has 2 problem\(s\): images\/lonely\.png: has no label/);
  });

  it("reports a class list that collides with the ignore index, and a missing folder", async () => {
    const d = dataset();
    d.put("images/a.png", rgb(1, 1));
    const report = await validateDataset({ format: "SEMANTIC_PNG", location: d.location, classes: [{ id: 0, name: "x", isThing: false, datasetId: 255 }] }, d.decoder);
    expect(report.problems.map((p) => p.message)).toEqual(
      expect.arrayContaining([expect.stringMatching(/dataset id 255 is the ignore index/), expect.stringMatching(/folder labels\/ does not exist/)]),
    );
  });
});

describe("CITYSCAPES", () => {
  it("pairs leftImg8bit with gtFine labelTrainIds of the split, ignoring other gtFine files", async () => {
    const d = dataset();
    const trainIds: DatasetClass[] = [
      { id: 0, name: "road", isThing: false },
      { id: 13, name: "car", isThing: true },
    ];
    d.put("leftImg8bit/val/aachen/aachen_000000_000019_leftImg8bit.png", rgb(2, 1));
    d.put("gtFine/val/aachen/aachen_000000_000019_gtFine_labelTrainIds.png", grey(2, 1, [13, 255]));
    d.put("gtFine/val/aachen/aachen_000000_000019_gtFine_color.png");
    d.put("leftImg8bit/train/x/x_1_leftImg8bit.png", rgb(1, 1));
    const spec: DatasetSpec = { format: "CITYSCAPES", location: d.location, classes: trainIds };
    const samples = (await collect(readDataset(spec, d.decoder))) as SemanticSample[];
    expect(samples.map((s) => s.name)).toEqual(["aachen/aachen_000000_000019"]);
    expect(Array.from(samples[0].label)).toEqual([13, 255]);
    const report = await validateDataset(spec, d.decoder);
    expect(report.ok).toBe(true);
    const train = await validateDataset({ ...spec, split: "train" }, d.decoder);
    expect(train.problems.map((p) => p.file)).toEqual(["gtFine/train", "leftImg8bit/train/x/x_1_leftImg8bit.png"]);
  });
});

describe("COCO_PANOPTIC", () => {
  // categories: 24 person (thing), 7 road (stuff) → classes 1 and 0
  const cocoClasses: DatasetClass[] = [
    { id: 0, name: "road", isThing: false, datasetId: 7 },
    { id: 1, name: "person", isThing: true, datasetId: 24 },
  ];
  const json = (segments: object[], categories = [{ id: 24, name: "person", isthing: 1 }, { id: 7, name: "road", isthing: 0 }]) =>
    JSON.stringify({ images: [{ id: 1, file_name: "x.jpg" }], annotations: [{ image_id: 1, file_name: "x.png", segments_info: segments }], categories });
  // pixels: id 513 = (1, 2, 0) → 1 + 256·2; id 5 = (5, 0, 0); void; 513
  const png = (): DecodedImage => ({ width: 4, height: 1, channels: 3, data: Uint8Array.of(1, 2, 0, 5, 0, 0, 0, 0, 0, 1, 2, 0) });

  it("decodes R + 256·G + 256²·B ids, maps categories to classes and keeps iscrowd", async () => {
    const d = dataset();
    d.put("panoptic_val.json", undefined, json([{ id: 513, category_id: 24, iscrowd: 0 }, { id: 5, category_id: 7, iscrowd: 1 }]));
    d.put("panoptic_val/x.png", png());
    d.put("images/x.jpg", rgb(4, 1));
    const spec: DatasetSpec = { format: "COCO_PANOPTIC", location: d.location, classes: cocoClasses };
    const [s] = (await collect(readDataset(spec, d.decoder))) as PanopticSample[];
    expect(s.kind).toBe("panoptic");
    expect(Array.from(s.panoptic.ids)).toEqual([513, 5, 0, 513]);
    expect(s.panoptic.segments).toEqual([
      { id: 513, categoryId: 1, iscrowd: false },
      { id: 5, categoryId: 0, iscrowd: true },
    ]);
    expect(Array.from(s.label)).toEqual([1, 0, 255, 1]);
    expect((await validateDataset(spec, d.decoder)).ok).toBe(true);
  });

  it("falls back to panoptic/ and reports isthing disagreements and id mismatches", async () => {
    const d = dataset();
    // the JSON says person is not a thing (class 1 says it is), and the PNG holds id 5, which it does not list
    d.put("anns.json", undefined, json([{ id: 513, category_id: 24 }], [{ id: 24, name: "person", isthing: 0 }, { id: 7, name: "road", isthing: 0 }]));
    d.put("panoptic/x.png", png());
    d.put("images/x.jpg", rgb(4, 1));
    const report = await validateDataset({ format: "COCO_PANOPTIC", location: d.location, classes: cocoClasses }, d.decoder);
    expect(report.problems).toEqual([
      { file: "anns.json", message: "category 24 (person) has isthing 0 but class 1 (person) has isThing true" },
      { file: "panoptic/x.png", message: expect.stringMatching(/segment id 5 \(pixel 1\), which its segments_info does not list/) },
    ]);
  });

  it("reports segments whose category maps to no class", async () => {
    const d = dataset();
    d.put("p.json", undefined, json([{ id: 513, category_id: 99 }]));
    d.put("p/x.png", png());
    d.put("images/x.jpg", rgb(4, 1));
    const report = await validateDataset({ format: "COCO_PANOPTIC", location: d.location, classes: cocoClasses }, d.decoder);
    expect(report.problems).toEqual([{ file: "p/x.png", message: "segment 513 has category 99 (not in categories), which no class maps to" }]);
  });
});

describe("IMAGES", () => {
  const two: DatasetClass[] = [{ id: 0, name: "road", isThing: false }, { id: 1, name: "car", isThing: true }];

  it("lists images/ (not recursively, image extensions only) and counts, sizes and checksums them", async () => {
    const d = dataset();
    d.put("images/b.jpg", rgb(1, 2), "BB");
    d.put("images/a.png", rgb(2, 2), "A");
    d.put("images/notes.txt");
    d.put("images/deeper/c.png", rgb(1, 1));
    d.put("labels/a.png", grey(2, 2, [0, 0, 0, 0]));
    const spec: DatasetSpec = { format: "IMAGES", location: d.location, classes: two };
    const report = await validateDataset(spec, d.decoder);
    expect(report).toMatchObject({ ok: true, images: 2, problems: [], classPixels: { 0: 0, 1: 0 }, totalBytes: 3 });
    const stream = `images/a.png\0${1}\0A` + `images/b.jpg\0${2}\0BB`;
    expect(report.checksum).toBe(createHash("sha256").update(stream).digest("hex"));
    const images = await collect(readImages(spec, d.decoder));
    expect(images.map((s) => [s.name, s.width, s.height])).toEqual([["a", 2, 2], ["b", 1, 2]]);
    expect(await collect(readImages(spec, d.decoder, { limit: 1 }))).toHaveLength(1);
  });

  it("uses the folder itself when it has no images/ and reports undecodable images", async () => {
    const d = dataset();
    d.put("x.png", rgb(1, 1));
    d.put("y.png"); // not decodable
    const report = await validateDataset({ format: "IMAGES", location: d.location, classes: two }, d.decoder);
    expect(report.images).toBe(2);
    expect(report.problems).toEqual([{ file: "y.png", message: expect.stringMatching(/y\.png cannot be decoded/) }]);
  });

  it("refuses an empty folder and labelled reading (evaluation needs labels)", async () => {
    const d = dataset();
    d.put("images/readme.txt");
    const report = await validateDataset({ format: "IMAGES", location: d.location, classes: two }, d.decoder);
    expect(report.problems).toEqual([{ file: ".", message: "no images (.png, .jpg, .jpeg) in images/" }]);
    const e = dataset();
    e.put("a.png", rgb(1, 1));
    await expect(collect(readDataset({ format: "IMAGES", location: e.location, classes: two }, e.decoder))).rejects.toThrow(/IMAGES dataset .* has no labels/);
  });

  it("reads the images of labelled formats too", async () => {
    const d = dataset();
    d.put("images/a.png", rgb(2, 1));
    d.put("labels/a.png", grey(2, 1, [0, 1]));
    const images = await collect(readImages({ format: "SEMANTIC_PNG", location: d.location, classes: two }, d.decoder));
    expect(images.map((s) => s.name)).toEqual(["a"]);
  });
});
