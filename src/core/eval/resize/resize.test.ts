import { readFileSync } from "fs";
import { join } from "path";
import { bilinearTaps } from "./bilinearTaps";
import { extractWindow } from "./extractWindow";
import { keepRatioSize } from "./keepRatioSize";
import { planSlideWindows } from "./planSlideWindows";
import { preprocessImage } from "./preprocessImage";
import { resizeArgmax } from "./resizeArgmax";
import { resizeBilinear } from "./resizeBilinear";
import { resizeNearest } from "./resizeNearest";
import { resizeOffsets } from "./resizeOffsets";
import { SlideAccumulator } from "./SlideAccumulator";

// Written by fixtures/make_resize_fixtures.py with PyTorch (see the script for how to rerun it).
interface Fixtures {
  resize: Array<{ c: number; inH: number; inW: number; outH: number; outW: number; input: number[]; output: number[]; argmax: number[] }>;
  preprocess: Array<{ inH: number; inW: number; outH: number; outW: number; order: "RGB" | "BGR"; mean: number[]; std: number[]; image: number[]; output: number[] }>;
  nearest: Array<{ inH: number; inW: number; outH: number; outW: number; input: number[]; output: number[] }>;
  slide: { H: number; W: number; cropH: number; cropW: number; strideH: number; strideW: number; C: number; windows: Array<{ y1: number; y2: number; x1: number; x2: number; logitsH: number; logitsW: number; logits: number[] }>; output: number[] };
}
const fx: Fixtures = JSON.parse(readFileSync(join(__dirname, "fixtures", "resize_fixtures.json"), "utf8"));

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5) {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  expect(worst).toBeLessThan(tol);
}

describe("bilinearTaps / resizeBilinear (half-pixel centres, by hand)", () => {
  it("upsamples 2 → 4 with the source clamped at 0", () => {
    // scale 0.5: src = 0.5(d + ½) − ½ = −0.25→0, 0.25, 0.75, 1.25 (i0 = 1 is last: i1 = 1)
    // [0, 4] → [0, 1, 3, 4]
    const t = bilinearTaps(2, 4);
    expect(Array.from(t.i0)).toEqual([0, 0, 0, 1]);
    expect(Array.from(t.i1)).toEqual([1, 1, 1, 1]);
    expect(Array.from(t.w1)).toEqual([0, 0.25, 0.75, 0.25]);
    expect(Array.from(resizeBilinear(Float32Array.of(0, 4), 1, 1, 2, 1, 4))).toEqual([0, 1, 3, 4]);
  });

  it("downsamples without antialiasing (two taps, not the footprint mean)", () => {
    // 4 → 2: scale 2, src = 0.5 and 2.5 → means of (x0,x1) and (x2,x3)
    expect(Array.from(resizeBilinear(Float32Array.of(0, 2, 4, 8), 1, 1, 4, 1, 2))).toEqual([1, 6]);
    // 8 → 2: scale 4, src = 1.5 and 5.5 → (x1+x2)/2 = 5 and (x5+x6)/2 = 0; an area mean would give 2.5
    expect(Array.from(resizeBilinear(Float32Array.of(0, 0, 10, 0, 0, 0, 0, 0), 1, 1, 8, 1, 2))).toEqual([5, 0]);
    // 3 → 1: src = 3·½ − ½ = 1 → the middle value
    expect(Array.from(resizeBilinear(Float32Array.of(5, 7, 9), 1, 1, 3, 1, 1))).toEqual([7]);
  });

  it("is separable in 2-D: f(y, x) = 8·ty + 4·tx on [[0, 4], [8, 12]]", () => {
    // t ∈ {0, ¼, ¾, 1} along each axis (see the 2 → 4 case)
    const t = [0, 0.25, 0.75, 1];
    const expected = t.flatMap((ty) => t.map((tx) => 8 * ty + 4 * tx));
    expect(Array.from(resizeBilinear(Float32Array.of(0, 4, 8, 12), 1, 2, 2, 4, 4))).toEqual(expected);
  });

  it("matches torch.nn.functional.interpolate (fixtures)", () => {
    for (const f of fx.resize) {
      expectClose(resizeBilinear(Float32Array.from(f.input), f.c, f.inH, f.inW, f.outH, f.outW), f.output);
    }
  });
});

describe("resizeArgmax (fused resize + argmax)", () => {
  it("picks classes on the upsampled logits, ties to the lowest class", () => {
    // class 0 [1, 0] → [1, .75, .25, 0]; class 1 [0, 1] → [0, .25, .75, 1] → [0, 0, 1, 1]
    expect(Array.from(resizeArgmax(Float32Array.of(1, 0, 0, 1), 2, 1, 2, 1, 4))).toEqual([0, 0, 1, 1]);
    // class 1 constant 0.5 vs class 0 [1, .75, .25, 0] → [0, 0, 1, 1]; equal logits → class 0
    expect(Array.from(resizeArgmax(Float32Array.of(1, 0, 0.5, 0.5), 2, 1, 2, 1, 4))).toEqual([0, 0, 1, 1]);
    expect(Array.from(resizeArgmax(Float32Array.of(2, 2, 2, 2), 2, 1, 2, 1, 4))).toEqual([0, 0, 0, 0]);
  });

  it("matches torch's argmax of the interpolated logits (fixtures)", () => {
    for (const f of fx.resize) {
      expect(Array.from(resizeArgmax(Float32Array.from(f.input), f.c, f.inH, f.inW, f.outH, f.outW))).toEqual(f.argmax);
    }
  });

  it("agrees with argmax over the fully materialised resize on random logits", () => {
    let seed = 3;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const [C, inH, inW, outH, outW] = [6, 9, 13, 37, 50];
    const logits = Float32Array.from({ length: C * inH * inW }, () => rnd() * 10 - 5);
    const full = resizeBilinear(logits, C, inH, inW, outH, outW);
    const ids = resizeArgmax(logits, C, inH, inW, outH, outW);
    let mismatches = 0;
    for (let p = 0; p < outH * outW; p++) {
      let best = 0;
      for (let c = 1; c < C; c++) if (full[c * outH * outW + p] > full[best * outH * outW + p]) best = c;
      if (best !== ids[p]) mismatches++;
    }
    expect(mismatches).toBe(0);
    expect(ids).toBeInstanceOf(Uint8Array);
  });
});

describe("preprocessImage", () => {
  it("normalises in the model's channel order, by hand", () => {
    const px = { width: 1, height: 1, channels: 3, data: Uint8Array.of(10, 20, 30) };
    const opts = { width: 1, height: 1, mean: [1, 2, 3], std: [2, 4, 6] };
    // RGB: (10−1)/2, (20−2)/4, (30−3)/6 = 4.5, 4.5, 4.5
    expect(Array.from(preprocessImage(px, { ...opts, channelOrder: "RGB" }))).toEqual([4.5, 4.5, 4.5]);
    // BGR: (30−1)/2, (20−2)/4, (10−3)/6 = 14.5, 4.5, 7/6
    expectClose(preprocessImage(px, { ...opts, channelOrder: "BGR" }), [14.5, 4.5, 7 / 6], 1e-6);
    // grey replicated; RGBA alpha dropped
    // grey 7: (7−1)/2, (7−2)/4, (7−3)/6 = 3, 1.25, 2/3
    expectClose(preprocessImage({ width: 1, height: 1, channels: 1, data: Uint8Array.of(7) }, { ...opts, channelOrder: "RGB" }), [3, 1.25, 4 / 6], 1e-6);
    expect(Array.from(preprocessImage({ width: 1, height: 1, channels: 4, data: Uint8Array.of(10, 20, 30, 99) }, { ...opts, channelOrder: "RGB" }))).toEqual([4.5, 4.5, 4.5]);
  });

  it("writes into a batch buffer at an offset", () => {
    const buf = new Float32Array(8).fill(-9);
    preprocessImage({ width: 1, height: 1, channels: 3, data: Uint8Array.of(1, 2, 3) }, { width: 1, height: 1, channelOrder: "RGB", mean: [0, 0, 0], std: [1, 1, 1] }, buf, 4);
    expect(Array.from(buf)).toEqual([-9, -9, -9, -9, 1, 2, 3, -9]);
  });

  it("matches torch interpolate + normalise (fixtures)", () => {
    for (const f of fx.preprocess) {
      const out = preprocessImage({ width: f.inW, height: f.inH, channels: 3, data: Uint8Array.from(f.image) }, { width: f.outW, height: f.outH, channelOrder: f.order, mean: f.mean, std: f.std });
      expectClose(out, f.output, 1e-5);
    }
  });

  it("without a resize, equals PyTorch's float32 (x − mean) / std bit for bit (the default DIVIDE)", () => {
    const same = fx.preprocess.filter((f) => f.inH === f.outH && f.inW === f.outW);
    expect(same.length).toBeGreaterThan(0);
    for (const f of same) {
      const out = preprocessImage({ width: f.inW, height: f.inH, channels: 3, data: Uint8Array.from(f.image) }, { width: f.outW, height: f.outH, channelOrder: f.order, mean: f.mean, std: f.std });
      expect(Array.from(out)).toEqual(Array.from(Float32Array.from(f.output)));
    }
  });

  it("rejects a non-positive std, naming the field", () => {
    expect(() => preprocessImage({ width: 1, height: 1, channels: 3, data: new Uint8Array(3) }, { width: 1, height: 1, channelOrder: "RGB", mean: [0, 0, 0], std: [1, 0, 1] })).toThrow(/std\[1\] must be positive/);
  });
});

describe("keepRatioSize (mmcv rescale_size)", () => {
  it("fits the long and short sides, rounding half up", () => {
    // 1914×1052 into (2048, 1024): f = min(2048/1914, 1024/1052) = 1024/1052; 1914·f = 1863.06 → 1863
    expect(keepRatioSize(1914, 1052, 2048, 1024)).toEqual({ width: 1863, height: 1024 });
    expect(keepRatioSize(2048, 1024, 2048, 1024)).toEqual({ width: 2048, height: 1024 });
    // 500×375 into (2048, 512): f = min(4.096, 512/375) = 1.36533…; 500·f = 682.67 → 683
    expect(keepRatioSize(500, 375, 2048, 512)).toEqual({ width: 683, height: 512 });
    // portrait: the long side is the height
    expect(keepRatioSize(375, 500, 2048, 512)).toEqual({ width: 512, height: 683 });
  });
});

describe("slide inference", () => {
  it("plans mmseg's windows, pushing the last one back inside the border", () => {
    // grids: rows (7 − 4 + 3 − 1)//3 + 1 = 2, cols (10 − 6 + 4 − 1)//4 + 1 = 2
    expect(planSlideWindows(7, 10, { height: 4, width: 6 }, { height: 3, width: 4 })).toEqual([
      { y1: 0, y2: 4, x1: 0, x2: 6 },
      { y1: 0, y2: 4, x1: 4, x2: 10 },
      { y1: 3, y2: 7, x1: 0, x2: 6 },
      { y1: 3, y2: 7, x1: 4, x2: 10 },
    ]);
    // smaller than the crop: one window of the image's own size
    expect(planSlideWindows(3, 5, { height: 4, width: 6 }, { height: 3, width: 4 })).toEqual([{ y1: 0, y2: 3, x1: 0, x2: 5 }]);
    // Cityscapes 1024×2048, crop 769, stride 513: rows 767//513 + 1 = 2, cols 1791//513 + 1 = 4,
    // last column 1539 + 769 = 2308 → pushed back to [1279, 2048)
    const w = planSlideWindows(1024, 2048, { height: 769, width: 769 }, { height: 513, width: 513 });
    expect(w).toHaveLength(8);
    expect(w[3]).toEqual({ y1: 0, y2: 769, x1: 1279, x2: 2048 });
    expect(w[7]).toEqual({ y1: 255, y2: 1024, x1: 1279, x2: 2048 });
  });

  it("averages overlapping windows and drops the padding of a padded window, by hand", () => {
    // 1 channel, image 2×4; windows [0,2)×[0,3) with logits 1 and [0,2)×[1,4) with logits 3,
    // each run padded to a 3×3 input with logits at input size: overlap columns 1-2 → (1+3)/2
    const acc = new SlideAccumulator(1, 2, 4);
    acc.add({ y1: 0, y2: 2, x1: 0, x2: 3 }, new Float32Array(9).fill(1), 3, 3, 3, 3);
    acc.add({ y1: 0, y2: 2, x1: 1, x2: 4 }, new Float32Array(9).fill(3), 3, 3, 3, 3);
    expect(Array.from(acc.finish())).toEqual([1, 2, 2, 3, 1, 2, 2, 3]);
  });

  it("pads a window with zeros in extractWindow", () => {
    // 1 channel 2×3 image 1..6, window [0,2)×[1,3) into a 3×3 input
    const out = extractWindow(Float32Array.of(1, 2, 3, 4, 5, 6), 1, 2, 3, { y1: 0, y2: 2, x1: 1, x2: 3 }, 3, 3);
    expect(Array.from(out)).toEqual([2, 3, 0, 5, 6, 0, 0, 0, 0]);
  });

  it("matches a re-implementation of mmseg slide_inference in PyTorch (fixture)", () => {
    const s = fx.slide;
    const windows = planSlideWindows(s.H, s.W, { height: s.cropH, width: s.cropW }, { height: s.strideH, width: s.strideW });
    expect(windows).toEqual(s.windows.map(({ y1, y2, x1, x2 }) => ({ y1, y2, x1, x2 })));
    const acc = new SlideAccumulator(s.C, s.H, s.W);
    for (const w of s.windows) acc.add(w, Float32Array.from(w.logits), w.logitsH, w.logitsW);
    expectClose(acc.finish(), s.output, 1e-5);
  });
});

describe("resizeNearest", () => {
  it("picks src = floor(dst · in/out), by hand", () => {
    // 3 → 5: scale 0.6 → src 0, 0, 1, 1, 2;  4 → 2: scale 2 → src 0, 2
    expect(Array.from(resizeNearest(Uint8Array.of(10, 20, 30), 1, 3, 1, 5))).toEqual([10, 10, 20, 20, 30]);
    expect(Array.from(resizeNearest(Int32Array.of(1, 2, 3, 4), 1, 4, 1, 2))).toEqual([1, 3]);
  });

  it("matches torch nearest (fixtures)", () => {
    for (const f of fx.nearest) {
      expect(Array.from(resizeNearest(Int32Array.from(f.input), f.inH, f.inW, f.outH, f.outW))).toEqual(f.output);
    }
  });
});

describe("resizeOffsets", () => {
  it("scales displacements with the map", () => {
    // 1×2 → 2×4 (2× both ways): dy constant 1 → 2; dx [0, 4] → bilinear [0, 1, 3, 4] then ×2
    const out = resizeOffsets(Float32Array.of(1, 1, 0, 4), 1, 2, 2, 4, "YX");
    expect(Array.from(out)).toEqual([2, 2, 2, 2, 2, 2, 2, 2, 0, 2, 6, 8, 0, 2, 6, 8]);
    // 1×2 → 1×4, XY: channel 0 is dx → ×2 (width factor), channel 1 is dy [0, 1, 3, 4] → ×1 (height factor)
    const xy = resizeOffsets(Float32Array.of(1, 1, 0, 4), 1, 2, 1, 4, "XY");
    expect(Array.from(xy)).toEqual([2, 2, 2, 2, 0, 1, 3, 4]);
  });
});
