import { readFileSync } from "fs";
import { join } from "path";
import { ConfusionMatrix, preprocessImage, resizeArgmax, type DatasetSample, type NormalizationName } from "../core/eval";
import { fastPreprocess } from "./fastPreprocess";
import { fastResizeArgmax, resizeArgmaxRows } from "./fastResizeArgmax";
import { SampleScorer } from "./SampleScorer";
import { prng } from "../core/testing/prng";

/** Logits that form regions (a class dominates each blob) with noise, so both agreeing and boundary pixels occur. */
function regionLogits(channels: number, h: number, w: number, seed: number): Float32Array {
  const random = prng(seed);
  const centers = Array.from({ length: channels * 2 }, () => [random() * h, random() * w, Math.floor(random() * channels)]);
  const out = new Float32Array(channels * h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < channels; c++) {
        let v = (random() - 0.5) * 0.3;
        for (const [cy, cx, cc] of centers) if (cc === c) v += 3 * Math.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (0.05 * h * w));
        out[(c * h + y) * w + x] = v;
      }
    }
  }
  return out;
}

describe("fastResizeArgmax", () => {
  // The reference is core's resizeArgmax, itself checked against torch (resize_fixtures.json);
  // this implementation shares none of its row-cache code.
  it.each([
    [5, 16, 16, 32, 32],
    [19, 24, 40, 48, 80],
    [3, 10, 14, 37, 23],
    [4, 31, 17, 12, 9],
    [2, 8, 8, 8, 8],
  ])("%i classes, %i×%i → %i×%i, equals resizeArgmax pixel for pixel", (c, inH, inW, outH, outW) => {
    const logits = regionLogits(c, inH, inW, c * 1000 + inH);
    const expected = resizeArgmax(logits, c, inH, inW, outH, outW);
    const got = fastResizeArgmax(logits, c, inH, inW, outH, outW);
    expect(got.length).toBe(outH * outW);
    expect(Array.from(got)).toEqual(Array.from(expected));
    // both kinds of pixels were exercised
    expect(new Set(Array.from(got)).size).toBeGreaterThan(1);
  });

  it("breaks ties to the lowest class, as torch.argmax", () => {
    // 2 classes, 1×2 → 1×4: both logits equal everywhere → class 0 everywhere
    expect(Array.from(fastResizeArgmax(Float32Array.of(1, 2, 1, 2), 2, 1, 2, 1, 4))).toEqual([0, 0, 0, 0]);
    // class 1 wins at the right pixel only: (0, 0 | 0, 1) → outputs at src x 0, 0.25, 0.75, 1 → 0, 1, 1, 1 (any positive weight on the right wins)
    expect(Array.from(fastResizeArgmax(Float32Array.of(0, 0, 0, 1), 2, 1, 2, 1, 4))).toEqual([0, 1, 1, 1]);
  });
});

describe("fastPreprocess", () => {
  it.each([["RGB", 3], ["BGR", 3], ["RGB", 4]] as const)("%s with %i channels at the input size equals preprocessImage bit for bit", (order, channels) => {
    const random = prng(channels);
    const image = { width: 7, height: 5, channels, data: Uint8Array.from({ length: 7 * 5 * channels }, () => Math.floor(random() * 256)) };
    const options = { width: 7, height: 5, channelOrder: order, mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375] };
    const expected = preprocessImage(image, options, new Float32Array(2 * 3 * 35), 3 * 35);
    const got = fastPreprocess(image, options, new Float32Array(2 * 3 * 35), 3 * 35);
    expect(Array.from(got)).toEqual(Array.from(expected));
    // and by hand: first pixel's first channel
    const first = order === "RGB" ? image.data[0] : image.data[2];
    expect(got[3 * 35]).toBeCloseTo((first - 123.675) / 58.395, 5);
  });

  // Written by core's fixtures/make_normalization_fixtures.py (numpy float32 and OpenCV as mmcv calls it).
  const normFx: { sets: Array<{ name: string; mean: number[]; std: number[]; DIVIDE: number[][]; MMCV: number[][] }> } = JSON.parse(
    readFileSync(join(__dirname, "..", "core", "eval", "resize", "fixtures", "normalization_fixtures.json"), "utf8"),
  );
  it.each(["DIVIDE", "MMCV"] as const)("%s: every byte value equals the reference fixture bit for bit (RGB/BGR, 3/4 channels, at an offset)", (conv: NormalizationName) => {
    const plane = 256;
    for (const set of normFx.sets) {
      for (const [order, channels] of [["RGB", 3], ["BGR", 3], ["RGB", 4]] as const) {
        // 16 × 16, pixel i = value i in its first three channels (alpha 7, ignored); the mean/std of plane c is
        // set[c] whichever source channel feeds it, so each plane must read as the fixture's channel c.
        const data = new Uint8Array(plane * channels).fill(7);
        for (let i = 0; i < plane; i++) data.fill(i, i * channels, i * channels + 3);
        const out = fastPreprocess({ width: 16, height: 16, channels, data }, { width: 16, height: 16, channelOrder: order, mean: set.mean, std: set.std, normalization: conv }, new Float32Array(4 * plane + 3 * plane), 4 * plane);
        const bits = new Uint32Array(out.buffer);
        for (let c = 0; c < 3; c++) {
          expect({ set: set.name, order, channels, c, bits: Array.from(bits.subarray(4 * plane + c * plane, 4 * plane + (c + 1) * plane)) }).toEqual({ set: set.name, order, channels, c, bits: set[conv][c] });
        }
      }
    }
  });

  it("keeps the channel order with distinct channels (BGR: plane 0 reads the third byte)", () => {
    const set = normFx.sets[0];
    // one pixel (R, G, B) = (10, 200, 33); BGR plane 0 = 33 with mean/std[0], plane 1 = 200, plane 2 = 10
    const out = fastPreprocess({ width: 1, height: 1, channels: 3, data: Uint8Array.of(10, 200, 33) }, { width: 1, height: 1, channelOrder: "BGR", mean: set.mean, std: set.std, normalization: "MMCV" });
    expect(Array.from(new Uint32Array(out.buffer))).toEqual([set.MMCV[0][33], set.MMCV[1][200], set.MMCV[2][10]]);
  });

  it("resizes through core when the sizes differ", () => {
    const image = { width: 2, height: 1, channels: 1, data: Uint8Array.of(0, 100) };
    // 2 → 4 half-pixel: src 0 (clamped), 0.25, 0.75, 1 → 0, 25, 75, 100
    const got = fastPreprocess(image, { width: 4, height: 1, channelOrder: "RGB", mean: [0, 0, 0], std: [1, 1, 1] });
    expect(Array.from(got.subarray(0, 4))).toEqual([0, 25, 75, 100]);
  });
});

describe("fastResizeArgmax on noisy logits (whole rows blended)", () => {
  // Independent noise per pixel and channel: most output pixels have taps that disagree, so rows take the channel-by-channel path.
  it.each([
    [19, 16, 20, 32, 40],
    [5, 9, 13, 18, 26],
    [3, 12, 12, 29, 31],
    [7, 10, 8, 40, 33],
  ])("%i classes, %i×%i → %i×%i, equals resizeArgmax pixel for pixel", (c, inH, inW, outH, outW) => {
    const random = prng(c * 7 + inW);
    const logits = Float32Array.from({ length: c * inH * inW }, () => random() * 4 - 2);
    expect(Array.from(fastResizeArgmax(logits, c, inH, inW, outH, outW))).toEqual(Array.from(resizeArgmax(logits, c, inH, inW, outH, outW)));
  });

  it("keeps ties on the lowest class in blended rows, as torch.argmax", () => {
    // 3 classes, 2×2 → 4×4; every pixel's taps disagree (class 1 at the top-left tap only), classes 0 and 2 equal everywhere
    const a = [0, 0, 0, 0];
    const b = [5, -9, -9, -9];
    const logits = Float32Array.from([...a, ...b, ...a]);
    expect(Array.from(fastResizeArgmax(logits, 3, 2, 2, 4, 4))).toEqual(Array.from(resizeArgmax(logits, 3, 2, 2, 4, 4)));
  });
});

describe("fastResizeArgmax's reused working arrays", () => {
  it("give every call its own answer: sizes up and down in turn, and a call made from inside another's rows", () => {
    const random = prng(77);
    const maps = [
      [5, 32, 32, 64, 64],
      [19, 9, 13, 40, 52],
      [5, 32, 32, 64, 64],
      [300, 4, 6, 9, 11],
      [3, 2, 3, 5, 4],
    ].map(([c, inH, inW, outH, outW]) => ({ c, inH, inW, outH, outW, logits: Float32Array.from({ length: c * inH * inW }, () => random() * 4 - 2) }));
    const expected = maps.map((m) => Array.from(resizeArgmax(m.logits, m.c, m.inH, m.inW, m.outH, m.outW)));
    maps.forEach((m, i) => expect(Array.from(fastResizeArgmax(m.logits, m.c, m.inH, m.inW, m.outH, m.outW))).toEqual(expected[i]));
    // Nested: while rows of map 1 are emitted, map 0 is resized in full; the outer rows stay right.
    const outer = maps[1];
    const rows: number[] = [];
    resizeArgmaxRows(outer.logits, outer.c, outer.inH, outer.inW, outer.outH, outer.outW, (oy, row) => {
      const before = Array.from(row);
      if (oy % 7 === 0) expect(Array.from(fastResizeArgmax(maps[0].logits, 5, 32, 32, 64, 64))).toEqual(expected[0]);
      expect(Array.from(row)).toEqual(before);
      rows.push(...row);
    });
    expect(rows).toEqual(expected[1]);
  });
});

describe("fastResizeArgmax with NaN, infinities and ties in noisy logits", () => {
  // Noisy logits (whole rows blended), widths with every remainder mod 4, more than 256 classes
  // (16-bit ids), one class, a column.
  it.each([
    [19, 16, 20, 32, 40],
    [5, 9, 13, 18, 26],
    [3, 12, 12, 29, 31],
    [7, 10, 8, 40, 33],
    [300, 6, 7, 12, 13],
    [1, 5, 5, 10, 9],
    [2, 3, 1, 6, 1],
  ])("%i classes, %i×%i → %i×%i: equals resizeArgmax pixel for pixel", (c, inH, inW, outH, outW) => {
    const random = prng(c * 11 + inW);
    const logits = Float32Array.from({ length: c * inH * inW }, () => (random() < 0.1 ? Math.round(random() * 4) - 2 : random() * 4 - 2));
    for (let k = 0; k < 6; k++) logits[Math.floor(random() * logits.length)] = [NaN, Infinity, -Infinity][k % 3];
    expect(Array.from(fastResizeArgmax(logits, c, inH, inW, outH, outW))).toEqual(Array.from(resizeArgmax(logits, c, inH, inW, outH, outW)));
  });
});

describe("fastResizeArgmax: close calls", () => {
  it("still wins the blend where it is second everywhere (by hand)", () => {
    // 3 classes, 1×2 → 1×4. Left pixel: class 0 = 10, class 2 = 9; right pixel: class 1 = 10, class 2 = 9.
    // Outputs at source x 0, 0.25, 0.75, 1 (clamped): class 0 = 10, 7.5, 2.5, 0; class 1 = 0, 2.5, 7.5, 10; class 2 = 9.
    const logits = Float32Array.of(10, 0, 0, 10, 9, 9);
    expect(Array.from(fastResizeArgmax(logits, 3, 1, 2, 1, 4))).toEqual([0, 2, 2, 1]);
    expect(Array.from(resizeArgmax(logits, 3, 1, 2, 1, 4))).toEqual([0, 2, 2, 1]);
  });

  it.each([
    [19, 32, 32, 64, 64, 0.02],
    [6, 20, 30, 40, 60, 1e-6],
    [4, 17, 13, 37, 29, 0],
  ])("%i classes %i×%i → %i×%i with near-ties (runner-up within %f of the leader): equals resizeArgmax", (c, inH, inW, outH, outW, gap) => {
    // per pixel a leader and a runner-up (often a third class) close to it, so the taps' classes are close calls
    const random = prng(c + inW);
    const logits = new Float32Array(c * inH * inW).fill(-5);
    for (let i = 0; i < inH * inW; i++) {
      const lead = Math.floor(random() * c);
      const next = (lead + 1 + Math.floor(random() * (c - 1))) % c;
      logits[lead * inH * inW + i] = 3;
      logits[next * inH * inW + i] = 3 - gap * random();
      if (random() < 0.3) logits[((next + 1) % c) * inH * inW + i] = 3 - gap;
    }
    expect(Array.from(fastResizeArgmax(logits, c, inH, inW, outH, outW))).toEqual(Array.from(resizeArgmax(logits, c, inH, inW, outH, outW)));
  });

  it("a +∞ logit at a tap of zero weight blends to NaN, as resizeArgmax computes it (by hand)", () => {
    // 2 classes, 2×1 → 4×1. Class 0: 0, 0; class 1: 1, +∞ — class 1 wins both source pixels.
    // The horizontal pass (width 1 → 1) takes the same column with weights 1 and 0, so class 1's
    // +∞ becomes ∞·1 + ∞·0 = NaN there, and every vertical blend with it is NaN: NaN never wins,
    // so class 0 (0 > −∞) takes all four rows — not class 1, which the four taps agree on.
    const logits = Float32Array.of(0, 0, 1, Infinity);
    expect(Array.from(resizeArgmax(logits, 2, 2, 1, 4, 1))).toEqual([0, 0, 0, 0]);
    expect(Array.from(fastResizeArgmax(logits, 2, 2, 1, 4, 1))).toEqual([0, 0, 0, 0]);
    // A NaN in class 0 wins its source pixel (nothing compares greater) but never a blend.
    const nan = Float32Array.of(NaN, NaN, 1, 2);
    expect(Array.from(fastResizeArgmax(nan, 2, 2, 1, 4, 1))).toEqual(Array.from(resizeArgmax(nan, 2, 2, 1, 4, 1)));
  });

  it("NaN and infinite logits: the same answer as resizeArgmax", () => {
    const random = prng(77);
    const logits = Float32Array.from({ length: 5 * 12 * 12 }, () => random() * 4 - 2);
    for (let k = 0; k < 40; k++) logits[Math.floor(random() * logits.length)] = [NaN, Infinity, -Infinity][k % 3];
    expect(Array.from(fastResizeArgmax(logits, 5, 12, 12, 25, 23))).toEqual(Array.from(resizeArgmax(logits, 5, 12, 12, 25, 23)));
  });
});

describe("fastPreprocess of images twice the input size", () => {
  it.each([["RGB", 3, "DIVIDE"], ["BGR", 3, "MMCV"], ["RGB", 4, "DIVIDE"], ["RGB", 1, "MMCV"]] as const)("%s, %i channels, %s equals preprocessImage bit for bit", (order, channels, normalization) => {
    const random = prng(channels * 11);
    const image = { width: 14, height: 10, channels, data: Uint8Array.from({ length: 14 * 10 * channels }, () => Math.floor(random() * 256)) };
    const options = { width: 7, height: 5, channelOrder: order, mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375], normalization };
    const expected = preprocessImage(image, options, new Float32Array(2 * 3 * 35), 3 * 35);
    const got = fastPreprocess(image, options, new Float32Array(2 * 3 * 35), 3 * 35);
    expect(Array.from(new Uint32Array(got.buffer))).toEqual(Array.from(new Uint32Array(expected.buffer)));
  });

  it("averages each 2 × 2 block (by hand)", () => {
    // grey 2×2 of 0, 10, 20, 31 → one pixel of 61/4 = 15.25 in every plane
    const got = fastPreprocess({ width: 2, height: 2, channels: 1, data: Uint8Array.of(0, 10, 20, 31) }, { width: 1, height: 1, channelOrder: "RGB", mean: [0, 0, 0], std: [1, 1, 1] });
    expect(Array.from(got)).toEqual([15.25, 15.25, 15.25]);
  });
});

describe("SampleScorer.addLogits (rows counted as they are resized, no prediction map)", () => {
  const sample = (label: Uint8Array | Uint16Array, height: number, width: number): DatasetSample =>
    ({ kind: "semantic", name: "s", imagePath: "i.png", labelPath: "l.png", image: { width, height, channels: 3, data: new Uint8Array(0) }, width, height, label }) as DatasetSample;

  // Reference: core's resizeArgmax (checked against torch) and ConfusionMatrix.add, pixel by pixel.
  it.each([
    [19, 16, 20, 32, 40, "noisy"],
    [19, 24, 40, 48, 80, "regions"],
    [5, 12, 12, 12, 12, "regions"],
    [3, 10, 14, 37, 23, "regions"],
    [7, 10, 8, 40, 33, "noisy"],
    [4, 31, 17, 12, 9, "regions"],
  ] as const)("%i classes, %i×%i → %i×%i (%s logits): the same confusion matrix as resizeArgmax + add, over two images", (c, inH, inW, outH, outW, kind) => {
    const random = prng(c * 31 + outW);
    const scorer = new SampleScorer(c, 255, [], false, {}, "m.onnx");
    const expected = new ConfusionMatrix(c, 255);
    for (let image = 0; image < 2; image++) {
      const logits = kind === "noisy" ? Float32Array.from({ length: c * inH * inW }, () => random() * 4 - 2) : regionLogits(c, inH, inW, c * 100 + image);
      const label = Uint8Array.from({ length: outH * outW }, () => (random() < 0.1 ? 255 : Math.floor(random() * c)));
      scorer.addLogits(sample(label, outH, outW), { data: logits, channels: c, height: inH, width: inW });
      expected.add(resizeArgmax(logits, c, inH, inW, outH, outW), label);
    }
    expect(Array.from(scorer.cm.counts)).toEqual(Array.from(expected.counts));
  });

  // Labels in blocks, as real ones come (long runs of one label value beside one predicted
  // class: the rows are counted a run at a time, four pixels per step where aligned), laid at a
  // byte offset of 0, 4 (aligned) or 1 (not aligned).
  it.each([
    [19, 32, 40, 64, 80, 0],
    [19, 32, 40, 64, 80, 1],
    [5, 16, 16, 48, 48, 4],
    [7, 20, 12, 40, 26, 0],
    [3, 12, 12, 12, 12, 0],
  ] as const)("%i classes, %i×%i → %i×%i, labels in blocks at byte offset %i: the same confusion matrix as resizeArgmax + add", (c, inH, inW, outH, outW, offset) => {
    const scorer = new SampleScorer(c, 255, [], false, {}, "m.onnx");
    const expected = new ConfusionMatrix(c, 255);
    for (let image = 0; image < 2; image++) {
      const logits = regionLogits(c, inH, inW, c * 7 + image);
      const label = new Uint8Array(offset + outH * outW).subarray(offset);
      for (let y = 0; y < outH; y++) for (let x = 0; x < outW; x++) {
        const v = ((y >> 3) * 7 + (x >> 3) * 3 + image) % (c + 1);
        label[y * outW + x] = v === c ? 255 : v;
      }
      scorer.addLogits(sample(label, outH, outW), { data: logits, channels: c, height: inH, width: inW });
      expected.add(resizeArgmax(logits, c, inH, inW, outH, outW), label);
    }
    expect(Array.from(scorer.cm.counts)).toEqual(Array.from(expected.counts));
    // runs of agreement were counted: some cell holds far more than a block's share of pixels
    expect(Math.max(...Array.from(scorer.cm.counts))).toBeGreaterThan(64);
  });

  it("16-bit labels take the prediction-map path and count the same", () => {
    const random = prng(5);
    const logits = regionLogits(4, 8, 8, 9);
    const label = Uint16Array.from({ length: 16 * 16 }, () => (random() < 0.1 ? 255 : Math.floor(random() * 4)));
    const scorer = new SampleScorer(4, 255, [], false, {}, "m.onnx");
    scorer.addLogits(sample(label, 16, 16), { data: logits, channels: 4, height: 8, width: 8 });
    expect(Array.from(scorer.cm.counts)).toEqual(Array.from(new ConfusionMatrix(4, 255).add(resizeArgmax(logits, 4, 8, 8, 16, 16), label).counts));
  });

  it("reports a label value outside the classes with the label file", () => {
    const scorer = new SampleScorer(2, 255, [], false, {}, "m.onnx");
    expect(() => scorer.addLogits(sample(Uint8Array.of(0, 1, 9, 0), 2, 2), { data: new Float32Array(2 * 4), channels: 2, height: 2, width: 2 })).toThrow(/label value 9 \(1 px\).* in l\.png/);
  });
});
