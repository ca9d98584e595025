import { splitmix64At, SplitMix64, uniforms } from "./splitmix64";
import { averageRanks, spearman } from "./spearman";
import { bestIndex, bootstrapDraws, confidenceFromResampled, pickConfidence, resampledObjectives } from "./pickConfidence";
import { probabilityStats } from "./imageStats";

describe("splitmix64", () => {
  it("gives the reference outputs for seed 0 (Vigna's splitmix64.c)", () => {
    expect([1n, 2n, 3n].map((k) => splitmix64At(0n, k))).toEqual([0xe220a8397b1dcdafn, 0x6e789e6aa1b965f4n, 0x06c45d188009454fn]);
    const g = new SplitMix64(0n);
    expect(g.next()).toBe(0xe220a8397b1dcdafn);
    expect(g.uniform()).toBe(Number(0x6e789e6aa1b965f4n >> 11n) / 2 ** 53);
  });
});

describe("uniforms (splitmix64 on 32-bit halves)", () => {
  it("gives SplitMix64.uniform()'s numbers, bit for bit, for seeds across the 64-bit range", () => {
    for (const seed of [0n, 1n, 42n, 0xffffffffn, 0x100000000n, (1n << 63n) + 12345n, (1n << 64n) - 1n, -7n]) {
      const g = new SplitMix64(seed);
      const fast = uniforms(seed, 5000);
      const slow = Array.from({ length: 5000 }, () => g.uniform());
      expect(Array.from(fast)).toEqual(slow);
    }
  });
});

describe("spearman", () => {
  it("uses average ranks for ties (hand-computed)", () => {
    expect(averageRanks([10, 20, 20, 30])).toEqual([1, 2.5, 2.5, 4]);
    // ranks x = [1, 2.5, 2.5, 4], y = [1, 3, 2, 4]: Σdxdy = 4.5, Σdx² = 4.5, Σdy² = 5 → 4.5 / √22.5
    expect(spearman([10, 20, 20, 30], [0.1, 0.3, 0.2, 0.4])).toBeCloseTo(4.5 / Math.sqrt(22.5), 15);
    expect(spearman([1, 2, 3, 4, 5], [50, 40, 30, 20, 10])).toBe(-1);
  });
  it("is null under 3 candidates or with a constant side", () => {
    expect(spearman([1, 2], [2, 1])).toBeNull();
    expect(spearman([1, 2, 3], [5, 5, 5])).toBeNull();
  });
});

describe("pickConfidence", () => {
  /** Two-class images whose per-image INFO_MAX statistics differ by candidate. */
  const stats = (logits: number[][]) => logits.map((l) => probabilityStats(Float32Array.from(l), 2, l.length / 2, "LOGITS"));
  const objective = (s: Float64Array[], counts: number[]) => {
    // reference INFO_MAX from weighted sums, written out for two classes
    let p0 = 0, h = 0, n = 0;
    s.forEach((x, i) => {
      p0 += counts[i] * x[0];
      h += counts[i] * x[2];
      n += counts[i] * x[3];
    });
    const m = p0 / n;
    const hm = (m > 0 ? -m * Math.log(m) : 0) + (m < 1 ? -(1 - m) * Math.log(1 - m) : 0);
    return hm - h / n;
  };

  it("equals a separately written bootstrap with the same draws", () => {
    const images = 6;
    const r = (c: number, i: number) => [Math.sin(c * 7 + i) * 3, Math.cos(c * 3 + i * 2) * 2, Math.sin(i + c) * 1.5, -Math.cos(i * c)];
    const candidates = [0, 1, 2, 3].map((c) => stats(Array.from({ length: images }, (_, i) => r(c, i))));
    const seed = 99n;
    const got = pickConfidence("INFO_MAX", 2, candidates, seed, 200)!;
    const full = candidates.map((c) => objective(c, new Array(images).fill(1)));
    const pick = full.indexOf(Math.max(...full));
    expect(got.pick).toBe(pick);
    // reference draws: output b·n + j + 1 of splitmix64 seeded with seed + 1
    let stays = 0;
    for (let b = 0; b < 200; b++) {
      const counts = new Array(images).fill(0);
      for (let j = 0; j < images; j++) counts[Math.floor((Number(splitmix64At(seed + 1n, BigInt(b * images + j + 1)) >> 11n) / 2 ** 53) * images)]++;
      const v = candidates.map((c) => objective(c, counts));
      if (v.every((x, c) => c === pick || x <= v[pick])) stays++;
    }
    expect(got.confidence).toBe(stays / 200);
    expect(got.confidence).toBeGreaterThan(0);
    expect(got.confidence).toBeLessThan(1); // this fixture is close enough to be unsure
  });

  it("SCORE (mIoU over agreement counts) on a dozen candidates equals a separately written bootstrap", () => {
    // per image and class: [tp, reference count, predicted count]; candidates differ in how much they get right
    const classes = 3;
    const images = 10;
    const candidates = Array.from({ length: 12 }, (_, c) =>
      Array.from({ length: images }, (_, i) => {
        const s = new Float64Array(3 * classes);
        for (let k = 0; k < classes; k++) {
          const ref = 20 + ((i * 7 + k * 3) % 11);
          const tp = Math.max(0, ref - ((c * 5 + i * 3 + k) % 9));
          s[k] = tp;
          s[classes + k] = ref;
          s[2 * classes + k] = tp + ((c + i + 2 * k) % 5);
        }
        return s;
      }),
    );
    const miou = (cand: Float64Array[], counts: number[]) => {
      let sum = 0;
      let n = 0;
      for (let k = 0; k < classes; k++) {
        let tp = 0, ref = 0, pred = 0;
        cand.forEach((s, i) => {
          tp += counts[i] * s[k];
          ref += counts[i] * s[classes + k];
          pred += counts[i] * s[2 * classes + k];
        });
        if (ref + pred - tp > 0) {
          sum += tp / (ref + pred - tp);
          n++;
        }
      }
      return sum / n;
    };
    const seed = 5n;
    const got = pickConfidence("SCORE", classes, candidates, seed, 300)!;
    const full = candidates.map((c) => miou(c, new Array(images).fill(1)));
    const pick = full.indexOf(Math.max(...full));
    expect(got.pick).toBe(pick);
    let stays = 0;
    const reference: number[][] = [];
    for (let b = 0; b < 300; b++) {
      const counts = new Array(images).fill(0);
      for (let j = 0; j < images; j++) counts[Math.floor((Number(splitmix64At(seed + 1n, BigInt(b * images + j + 1)) >> 11n) / 2 ** 53) * images)]++;
      const v = candidates.map((c) => miou(c, counts));
      reference.push(v);
      if (v.every((x, c) => c === pick || x <= v[pick])) stays++;
    }
    expect(got.confidence).toBe(stays / 300);
    expect(got.confidence).toBeGreaterThan(0);
    expect(got.confidence).toBeLessThan(1);
    // Each candidate's resampled objectives, computed on their own (as a search's threads do as
    // candidates are scored), against the reference's; and the confidence from them.
    const draws = bootstrapDraws(seed, images, 300);
    const vectors = candidates.map((c) => {
      const block = new Float64Array(images * 3 * classes);
      c.forEach((s, i) => block.set(s, i * 3 * classes));
      return resampledObjectives("SCORE", classes, block, 3 * classes, draws);
    });
    vectors.forEach((v, c) => v.forEach((x, b) => expect(x).toBeCloseTo(reference[b][c], 12)));
    expect(confidenceFromResampled(pick, vectors).confidence).toBe(stays / 300);
  });

  it("counts a resample only when the pick has an objective on it", () => {
    const pick = Float64Array.from([0.5, Number.NaN, 0.4, 0.7]);
    const rival = Float64Array.from([0.4, 0.3, Number.NaN, 0.8]);
    // resample 0: stays; 1: the pick has none; 2: the rival has none (stays); 3: beaten.
    expect(confidenceFromResampled(0, [pick, rival])).toEqual({ pick: 0, confidence: 0.5, resamples: 4 });
  });

  it("is 1 for a candidate better on every image, and ties keep the first", () => {
    const sure = stats([[0, 0, 0, 0], [0, 0, 1, 1]]); // uncertain pixels: low INFO_MAX
    const confident = stats([[9, -9, -9, 9], [9, 9, -9, -9]]);
    expect(pickConfidence("INFO_MAX", 2, [sure, confident], 1n)).toEqual({ pick: 1, confidence: 1, resamples: 1000 });
    expect(bestIndex([null, 0.5, 0.5, 0.2])).toBe(1);
  });
});
