import { ConfusionMatrix } from "../eval/metrics/ConfusionMatrix";
import { meanIoU } from "../eval/metrics/meanIoU";
import { agreementStats, argmaxMap, probabilityStats } from "./imageStats";
import { ensemblePseudoLabels } from "./ensemblePseudoLabels";
import { objectiveValue, sumStats, statsLength, ObjectiveKind } from "./objectives";
import { flipClassMap, perturbationDraw, perturbImage } from "./perturbation";

/*
 * Every objective against a second, separately written float64 statement of its definition
 * (docs/CONVENTIONS.md, Merge search), on hand-sized images of different sizes.
 */
const C = 3;
const SIZES: Array<[number, number]> = [[2, 3], [1, 4], [3, 3]]; // [H, W]

/** Deterministic pseudo-random values (a plain LCG: the test's own, not the code's generator). */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Logits [C, H·W] as float32, with a few exact ties and a very confident pixel. */
function logitImages(seed: number): Float32Array[] {
  const r = lcg(seed);
  return SIZES.map(([h, w], n) => {
    const data = Float32Array.from({ length: C * h * w }, () => (r() - 0.5) * 8);
    if (n === 0) {
      data[0 * h * w + 1] = 1.5; // pixel 1: classes 0 and 2 tie
      data[2 * h * w + 1] = 1.5;
      data[1 * h * w + 1] = -1;
      data[0 * h * w + 2] = 60; // pixel 2: p ≈ (1, 0, 0); exp underflows to 0 for the others
      data[1 * h * w + 2] = -700;
      data[2 * h * w + 2] = -700;
    }
    return data;
  });
}

// ---- the reference: pixel lists in float64, written without the code's statistics ----
function softmaxPixels(logits: Float32Array, pixels: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < pixels; i++) {
    const xs = Array.from({ length: C }, (_, c) => logits[c * pixels + i]);
    const m = Math.max(...xs);
    const lse = m + Math.log(xs.reduce((a, x) => a + Math.exp(x - m), 0));
    out.push(xs.map((x) => Math.exp(x - lse)));
  }
  return out;
}
const entropy = (p: number[]) => p.reduce((a, v) => (v === 0 ? a : a - v * Math.log(v)), 0);
function refInfoMax(allPixels: number[][]): number {
  const mean = Array.from({ length: C }, (_, c) => allPixels.reduce((a, p) => a + p[c], 0) / allPixels.length);
  return entropy(mean) - allPixels.reduce((a, p) => a + entropy(p), 0) / allPixels.length;
}
const refEntropy = (allPixels: number[][]) => -allPixels.reduce((a, p) => a + entropy(p), 0) / allPixels.length;
function refMiou(pairs: Array<[number, number]>): number {
  const cm = Array.from({ length: C }, () => new Array(C).fill(0));
  for (const [ref, pred] of pairs) cm[ref][pred]++;
  const ious: number[] = [];
  for (let c = 0; c < C; c++) {
    const union = cm[c].reduce((a: number, v: number) => a + v, 0) + cm.reduce((a, row) => a + row[c], 0) - cm[c][c];
    if (union > 0) ious.push(cm[c][c] / union);
  }
  return ious.reduce((a, v) => a + v, 0) / ious.length;
}
function refArgmax(p: number[]): number {
  let best = 0;
  p.forEach((v, c) => {
    if (v > p[best]) best = c;
  });
  return best;
}

const close = (actual: number | null, expected: number) => {
  expect(actual).not.toBeNull();
  expect(Math.abs((actual as number) - expected)).toBeLessThanOrEqual(1e-12 * Math.abs(expected));
};
const value = (kind: ObjectiveKind, stats: Float64Array[]) => objectiveValue(kind, sumStats(stats, statsLength(kind, C)), C);

describe("label-free objectives against a float64 reference", () => {
  const images = logitImages(7);
  const pixels = SIZES.map(([h, w]) => h * w);
  const all = images.flatMap((l, n) => softmaxPixels(l, pixels[n]));

  it("INFO_MAX = H(p̄) − mean H(p) over every pixel of every image", () => {
    const stats = images.map((l, n) => probabilityStats(l, C, pixels[n], "LOGITS"));
    close(value("INFO_MAX", stats), refInfoMax(all));
    // a different model gives a different value (the test would notice a constant)
    const other = logitImages(8).map((l, n) => probabilityStats(l, C, pixels[n], "LOGITS"));
    expect(Math.abs((value("INFO_MAX", other) as number) - refInfoMax(all))).toBeGreaterThan(1e-3);
  });

  it("statistics of an image larger than the blocks it is walked in, with −∞ logits and one-hot probabilities", () => {
    const [h, w] = [37, 23]; // 851 pixels: not a whole number of blocks
    const n = h * w;
    const r = lcg(11);
    const logits = Float32Array.from({ length: C * n }, () => (r() - 0.5) * 30);
    for (let i = 0; i < n; i += 97) logits[n + i] = -Infinity; // class 1 impossible here
    for (let i = 5; i < n; i += 131) [logits[i], logits[n + i], logits[2 * n + i]] = [-Infinity, 4, -Infinity]; // one-hot
    const ref = softmaxPixels(logits, n);
    const stats = probabilityStats(logits, C, n, "LOGITS");
    for (let c = 0; c < C; c++) close(stats[c], ref.reduce((a, p) => a + p[c], 0));
    close(stats[C], ref.reduce((a, p) => a + entropy(p), 0));
    expect(stats[C + 1]).toBe(n);
    const planar = new Float64Array(C * n);
    ref.forEach((p, i) => p.forEach((v, c) => (planar[c * n + i] = v)));
    const pstats = probabilityStats(planar, C, n, "PROBS");
    for (let c = 0; c < C; c++) close(pstats[c], ref.reduce((a, p) => a + p[c], 0));
    close(pstats[C], ref.reduce((a, p) => a + entropy(p), 0));
  });

  it("ENTROPY = −mean H(p), and PROBS outputs are taken as probabilities (0 · log 0 = 0)", () => {
    const stats = images.map((l, n) => probabilityStats(l, C, pixels[n], "LOGITS"));
    close(value("ENTROPY", stats), refEntropy(all));
    const probs = images.map((l, n) => {
      const p = softmaxPixels(l, pixels[n]);
      const planar = new Float64Array(C * pixels[n]);
      p.forEach((v, i) => v.forEach((x, c) => (planar[c * pixels[n] + i] = x)));
      planar[0] = 0; // an exact zero probability
      planar[pixels[n]] += p[0][0];
      return planar;
    });
    const ref = probs.flatMap((pl, n) => Array.from({ length: pixels[n] }, (_, i) => Array.from({ length: C }, (_, c) => pl[c * pixels[n] + i])));
    const pstats = probs.map((pl, n) => probabilityStats(pl, C, pixels[n], "PROBS"));
    close(value("ENTROPY", pstats), refEntropy(ref));
    close(value("INFO_MAX", pstats), refInfoMax(ref));
  });

  it("CONSISTENCY: mIoU of the prediction against the prediction on the flipped, jittered copy, flipped back", () => {
    const seed = 12345n;
    const r = lcg(3);
    const rgb = SIZES.map(([h, w]) => ({ width: w, height: h, channels: 3, data: Uint8Array.from({ length: h * w * 3 }, () => Math.floor(r() * 256)) }));
    const W = [[0.02, -0.01, 0.005], [-0.015, 0.02, 0.01], [0.01, 0.01, -0.02]];
    const b = [0.1, -0.2, 0.05];
    const model = (img: { width: number; height: number; data: ArrayLike<number> }) => {
      const n = img.width * img.height;
      const out = new Float32Array(C * n);
      for (let i = 0; i < n; i++) for (let k = 0; k < C; k++) out[k * n + i] = b[k] + W[k].reduce((a, w, ch) => a + w * (img.data[i * 3 + ch] - 127), 0);
      return out;
    };
    // code path
    const stats = rgb.map((img, i) => {
      const n = img.width * img.height;
      const clean = argmaxMap(model(img), C, n);
      const perturbed = argmaxMap(model(perturbImage(img, perturbationDraw(seed, i))), C, n);
      return agreementStats(flipClassMap(perturbed, img.height, img.width), clean, C);
    });
    // reference: draws from a separately written splitmix64, the jitter per pixel read mirrored
    const M = (1n << 64n) - 1n;
    const ref = (k: bigint) => {
      let z = (seed + k * 0x9e3779b97f4a7c15n) & M;
      z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
      z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M;
      return Number((z ^ (z >> 31n)) >> 11n) / 2 ** 53;
    };
    const pairs: Array<[number, number]> = [];
    rgb.forEach((img, i) => {
      const bright = Math.fround(-32 + 64 * ref(BigInt(2 * i + 1)));
      const contrast = Math.fround(0.5 + ref(BigInt(2 * i + 2)));
      const n = img.width * img.height;
      const f32 = (v: number) => Math.fround(v);
      const jitter = (v: number) => Math.min(255, Math.max(0, f32(f32(f32(f32(v + bright) - 127.5) * contrast) + 127.5)));
      const cleanLogits = model(img);
      for (let y = 0; y < img.height; y++)
        for (let x = 0; x < img.width; x++) {
          const i0 = y * img.width + x;
          // the prediction on the perturbed copy at the mirrored column, which sees this pixel
          const src = y * img.width + x;
          const px = [0, 1, 2].map((ch) => jitter(img.data[src * 3 + ch]));
          const logit = (k: number) => f32(b[k] + W[k].reduce((a, w, ch) => a + w * (px[ch] - 127), 0));
          const pert = refArgmax([0, 1, 2].map(logit));
          const clean = refArgmax([0, 1, 2].map((k) => cleanLogits[k * n + i0]));
          pairs.push([clean, pert]);
        }
    });
    close(value("CONSISTENCY", stats), refMiou(pairs));
    const draw = perturbationDraw(seed, 2);
    expect(draw.brightness).toBe(-32 + 64 * ref(5n));
    expect(draw.contrast).toBe(0.5 + ref(6n));
  });

  it("ENSEMBLE_AGREEMENT: mIoU against the argmax of the pool's mean softmax", () => {
    const pool = [logitImages(11), logitImages(12), logitImages(13)];
    const candidate = logitImages(14);
    const stats = candidate.map((l, n) => {
      const labels = ensemblePseudoLabels(pool.map((m) => ({ scores: m[n], activation: "LOGITS" as const })), C, pixels[n]);
      return agreementStats(argmaxMap(l, C, pixels[n]), labels, C);
    });
    const pairs: Array<[number, number]> = [];
    candidate.forEach((l, n) => {
      const members = pool.map((m) => softmaxPixels(m[n], pixels[n]));
      const mine = softmaxPixels(l, pixels[n]);
      for (let i = 0; i < pixels[n]; i++) {
        const mean = [0, 1, 2].map((c) => members.reduce((a, m) => a + m[i][c], 0) / members.length);
        pairs.push([refArgmax(mean), refArgmax(mine[i])]);
      }
    });
    close(value("ENSEMBLE_AGREEMENT", stats), refMiou(pairs));
  });

  it("SCORE: equals the evaluation's mIoU (one confusion matrix, ignore index, empty unions skipped)", () => {
    const r = lcg(5);
    const cm = new ConfusionMatrix(4, 255);
    const stats = SIZES.map(([h, w]) => {
      const n = h * w;
      const label = Uint8Array.from({ length: n }, () => (r() < 0.2 ? 255 : Math.floor(r() * 3))); // class 3 never appears
      const pred = Uint8Array.from({ length: n }, () => Math.floor(r() * 3));
      cm.add(pred, label, n, "x");
      return agreementStats(pred, label, 4, 255);
    });
    const expected = meanIoU(cm).mIoU as number;
    expect(objectiveValue("SCORE", sumStats(stats, 12), 4)).toBe(expected);
  });
});

describe("perturbation and flips", () => {
  it("flips, adds brightness, scales contrast about 127.5 in float32 and clips, unrounded", () => {
    const img = { width: 2, height: 1, channels: 3, data: Uint8Array.of(0, 100, 250, 10, 20, 30) };
    const out = perturbImage(img, { brightness: 10.25, contrast: 1.5 });
    // pixel 0 is the source's pixel 1: (10 + 10.25 − 127.5)·1.5 + 127.5 = −33.375 → 0; (30.25 − 127.5)·1.5 + 127.5 = −18.375 → 0; 40.25 → −3.375 → 0
    // pixel 1 is the source's pixel 0: 10.25 → −48.375 → 0; 110.25 → 101.625; 260.25 → 326.625 → 255
    expect(Array.from(out.data)).toEqual([0, 0, 0, 0, 101.625, 255]);
    const half = perturbImage({ width: 1, height: 1, channels: 3, data: Uint8Array.of(128, 0, 255) }, { brightness: 0.1, contrast: 0.7 });
    expect(half.data[0]).toBe(Math.fround(Math.fround(Math.fround(Math.fround(128 + Math.fround(0.1)) - 127.5) * Math.fround(0.7)) + 127.5));
    expect(Number.isInteger(half.data[0])).toBe(false);
    expect(Array.from(flipClassMap(Uint16Array.of(1, 2, 3, 4, 5, 6), 2, 3))).toEqual([3, 2, 1, 6, 5, 4]);
  });
});
