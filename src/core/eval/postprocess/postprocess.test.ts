import { readFileSync } from "fs";
import { join } from "path";
import { DomainError } from "../../errors";
import { findInstanceCenters } from "./findInstanceCenters";
import { resolvePanopticPostprocess } from "./panopticPostprocessOptions";
import { PANOPTIC_VOID, postprocessPanopticDeepLab } from "./postprocessPanopticDeepLab";
import { semanticArgmax } from "./semanticArgmax";

describe("semanticArgmax", () => {
  it("takes the largest channel, ties to the lowest", () => {
    // c0 [1, 2, 3], c1 [3, 2, 1] → [1, tie → 0, 0]
    expect(Array.from(semanticArgmax(Float32Array.of(1, 2, 3, 3, 2, 1), 2, 1, 3))).toEqual([1, 0, 0]);
  });

  it.each([1, 2, 3, 4, 5, 19])("%i channels: per pixel the first strictly greatest channel, as a plain scan (ties, NaN, infinities)", (channels) => {
    let seed = channels;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const plane = 300;
    // few distinct values, so ties are common; some NaN and infinities
    const pick = [0, 1, 2, 2, 3, NaN, Infinity, -Infinity];
    const logits = Float32Array.from({ length: channels * plane }, () => pick[Math.floor(rnd() * pick.length)]);
    const expected = Array.from({ length: plane }, (_, i) => {
      let best = logits[i];
      let arg = 0;
      for (let c = 1; c < channels; c++) {
        if (logits[c * plane + i] > best) {
          best = logits[c * plane + i];
          arg = c;
        }
      }
      return arg;
    });
    expect(Array.from(semanticArgmax(logits, channels, 1, plane))).toEqual(expected);
  });
});

describe("findInstanceCenters", () => {
  // 1×7 heatmap; threshold 0.1
  const heat = Float32Array.of(0.5, 0.6, 0.2, 0.2, 0.2, 0.7, 0.7);
  it("keeps pixels equal to their max-pooled neighbourhood, plateaus included", () => {
    // kernel 3 pooled: [.6, .6, .6, .2, .7, .7, .7] → equal at x = 1 (.6), 3 (.2), 5 and 6 (.7 tie)
    expect(findInstanceCenters(heat, 1, 7, 0.1, 3, 200).map((c) => c.x)).toEqual([1, 3, 5, 6]);
    // kernel 7: x = 3 sees the .7 at x = 5 → suppressed; x = 1 sees only up to x = 4
    expect(findInstanceCenters(heat, 1, 7, 0.1, 7, 200).map((c) => c.x)).toEqual([1, 5, 6]);
  });

  it("needs a score strictly above the threshold", () => {
    expect(findInstanceCenters(Float32Array.of(0.1, 0, 0.11), 1, 3, 0.1, 1, 200).map((c) => c.x)).toEqual([2]);
  });

  it("compares the threshold in float32, as F.threshold: a score equal to it is dropped, one float32 step above is kept", () => {
    // threshold 0.3: float32(0.3) = 0.300000011920928955… lies above the double 0.3, so a float64
    // comparison would keep a float32 score of 0.3; F.threshold casts 0.3 to float32 and drops it.
    const at = Math.fround(0.3);
    const above = new Float32Array(new Uint32Array([new Uint32Array(Float32Array.of(at).buffer)[0] + 1]).buffer)[0];
    const below = new Float32Array(new Uint32Array([new Uint32Array(Float32Array.of(at).buffer)[0] - 1]).buffer)[0];
    expect(above).toBeGreaterThan(at);
    expect(below).toBeLessThan(at);
    expect(below).toBeLessThan(0.3);
    expect(findInstanceCenters(Float32Array.of(at, 0, above, 0, below), 1, 5, 0.3, 1, 200)).toEqual([{ y: 0, x: 2, score: above }]);
  });

  it("ties and at-threshold pixels in 2-D, worked by hand", () => {
    // 3×4, threshold 0.3 (every 0.3 below is float32(0.3), i.e. at the threshold)
    //   .3 .8 .8 .3          −1 .8 .8 −1
    //   .2 .1 .3 .6   →      −1 −1 −1 .6     (≤ threshold → −1)
    //   .3 .3 .4  0          −1 −1 .4 −1
    // kernel 3: (0,1) sees rows 0–1, cols 0–2 → max .8 = itself; (0,2) rows 0–1, cols 1–3 → .8, a tie
    // with (0,1), both kept; (1,3) sees .8 at (0,2) → suppressed; (2,2) sees .6 at (1,3) → suppressed.
    const heat = Float32Array.of(0.3, 0.8, 0.8, 0.3, 0.2, 0.1, 0.3, 0.6, 0.3, 0.3, 0.4, 0);
    const s8 = Math.fround(0.8);
    expect(findInstanceCenters(heat, 3, 4, 0.3, 3, 200)).toEqual([{ y: 0, x: 1, score: s8 }, { y: 0, x: 2, score: s8 }]);
    // kernel 1 (no suppression): every pixel above the threshold, none of the five at it
    expect(findInstanceCenters(heat, 3, 4, 0.3, 1, 200).map((c) => [c.y, c.x])).toEqual([[0, 1], [0, 2], [1, 3], [2, 2]]);
    // top-k 2 with the tie at the top: s_2 = .8, nothing is strictly above it → no center (the reference's rule)
    expect(findInstanceCenters(heat, 3, 4, 0.3, 3, 2)).toEqual([]);
    // top-k 3: s_3 is a suppressed −1, clamped to 0 → both tied centers
    expect(findInstanceCenters(heat, 3, 4, 0.3, 3, 3)).toHaveLength(2);
  });

  it("treats NaN as F.threshold and max_pool2d do: kept by the threshold, propagated by the pool, equal to nothing", () => {
    // 1×5, threshold 0.1, kernel 3: thresholded [.5, NaN, .2, −1, .9] (NaN ≤ 0.1 is false, so it stays);
    // pooled [NaN, NaN, NaN, .9, .9] (a window with NaN pools to NaN); equal only at x = 4 (.9) —
    // x = 0 and x = 2 are suppressed by their NaN neighbour, and NaN itself equals nothing.
    expect(findInstanceCenters(Float32Array.of(0.5, NaN, 0.2, 0, 0.9), 1, 5, 0.1, 3, 200)).toEqual([{ y: 0, x: 4, score: Math.fround(0.9) }]);
    // in 2-D: NaN at (1,1) of a 3×3 suppresses all eight neighbours under kernel 3; kernel 1 keeps them
    const grid = Float32Array.of(0.5, 0.6, 0.7, 0.4, NaN, 0.4, 0.7, 0.6, 0.5);
    expect(findInstanceCenters(grid, 3, 3, 0.1, 3, 200)).toEqual([]);
    expect(findInstanceCenters(grid, 3, 3, 0.1, 1, 200)).toHaveLength(8);
  });

  it("applies the reference's top-k rule: strictly above the k-th largest score", () => {
    // candidates (kernel 3) scores .6, .2, .7, .7 → sorted .7 .7 .6 .2
    // k = 3: s_3 = .6 → keep > .6: x = 5, 6; k = 2: s_2 = .7 → nothing is above it
    expect(findInstanceCenters(heat, 1, 7, 0.1, 3, 3).map((c) => c.x)).toEqual([5, 6]);
    expect(findInstanceCenters(heat, 1, 7, 0.1, 3, 2)).toEqual([]);
    // k = 5 > 4 candidates: s_5 is a suppressed −1, clamped to 0 → all four
    expect(findInstanceCenters(heat, 1, 7, 0.1, 3, 5)).toHaveLength(4);
  });

  it("scans in row-major order in 2-D", () => {
    // 3×3 with peaks at (0,2) .9 and (2,0) .8, kernel 1 (no suppression), threshold .5
    const c = findInstanceCenters(Float32Array.of(0, 0, 0.9, 0, 0, 0, 0.8, 0, 0), 3, 3, 0.5, 1, 200);
    expect(c).toEqual([
      { y: 0, x: 2, score: Math.fround(0.9) },
      { y: 2, x: 0, score: Math.fround(0.8) },
    ]);
  });
});

describe("postprocessPanopticDeepLab", () => {
  // classes: 0 road (stuff), 1 car (thing), 2 sky (stuff), 3 person (thing); 5×7 image
  const H = 5;
  const W = 7;
  const things = new Set([1, 3]);
  // prettier-ignore
  const sem = Uint8Array.of(
    2, 2, 2, 2, 2, 2, 2,
    2, 1, 1, 0, 3, 3, 2,
    0, 1, 1, 0, 3, 3, 0,
    0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0,
  );
  const heatmap = () => {
    const h = new Float32Array(H * W);
    h[1 * W + 1] = 0.9; // center A at (1,1)
    h[2 * W + 5] = 0.8; // center B at (2,5)
    return h;
  };
  const at = (y: number, x: number) => y * W + x;

  it("groups thing pixels to the nearest center and numbers instances per class", () => {
    // zero offsets: car pixels are nearer A, person pixels nearer B → car #1, person #1
    // sky: 7 + 2 = 9 px → 2000; road: 4 + 14 = 18 px → 0
    const r = postprocessPanopticDeepLab({ height: H, width: W, semantic: { classIds: sem }, center: heatmap(), offsets: new Float32Array(2 * H * W) }, things, { nmsKernel: 3 });
    // prettier-ignore
    expect(Array.from(r.panoptic)).toEqual([
      2000, 2000, 2000, 2000, 2000, 2000, 2000,
      2000, 1001, 1001,    0, 3001, 3001, 2000,
         0, 1001, 1001,    0, 3001, 3001,    0,
      ...new Array(14).fill(0),
    ]);
    expect(r.centers.map((c) => [c.y, c.x])).toEqual([[1, 1], [2, 5]]);
  });

  it("follows offsets (YX and XY) and takes the majority class", () => {
    // person pixel (1,4) gets dx = −3 → lands on (1,1) → joins A: A = 4 car + 1 person → car 1001
    for (const order of ["YX", "XY"] as const) {
      const off = new Float32Array(2 * H * W);
      off[(order === "YX" ? H * W : 0) + at(1, 4)] = -3;
      const r = postprocessPanopticDeepLab({ height: H, width: W, semantic: { classIds: sem }, center: heatmap(), offsets: off }, things, { nmsKernel: 3, offsetOrder: order });
      expect(r.panoptic[at(1, 4)]).toBe(1001);
      expect(r.panoptic[at(1, 5)]).toBe(3001);
    }
  });

  it("breaks a majority tie toward the smaller class id (torch.mode)", () => {
    // one center only (A): it gathers 4 car and 4 person pixels → class 1 wins the tie;
    // person pixels then carry the car instance id
    const h = new Float32Array(H * W);
    h[at(1, 1)] = 0.9;
    const r = postprocessPanopticDeepLab({ height: H, width: W, semantic: { classIds: sem }, center: h, offsets: new Float32Array(2 * H * W) }, things, { nmsKernel: 3 });
    expect(r.panoptic[at(2, 5)]).toBe(1001);
  });

  it("turns small segments and center-less things into void", () => {
    // stuffArea 10: sky (9 px) → void, road (18 px) stays; thingArea 5: both 4-px instances → void
    const r = postprocessPanopticDeepLab({ height: H, width: W, semantic: { classIds: sem }, center: heatmap(), offsets: new Float32Array(2 * H * W) }, things, { nmsKernel: 3, stuffArea: 10, thingArea: 5 });
    expect(r.panoptic[at(0, 0)]).toBe(PANOPTIC_VOID);
    expect(r.panoptic[at(4, 0)]).toBe(0);
    expect(r.panoptic[at(1, 1)]).toBe(PANOPTIC_VOID);
    expect(r.panoptic[at(1, 4)]).toBe(PANOPTIC_VOID);
    // no center above the threshold: thing pixels void, stuff unchanged
    const none = postprocessPanopticDeepLab({ height: H, width: W, semantic: { classIds: sem }, center: new Float32Array(H * W).fill(0.05), offsets: new Float32Array(2 * H * W) }, things);
    expect(none.panoptic[at(1, 1)]).toBe(PANOPTIC_VOID);
    expect(none.panoptic[at(0, 0)]).toBe(2000);
    expect(none.centers).toEqual([]);
  });

  it("takes semantic logits and a sigmoid center head, with a custom label divisor", () => {
    // 1×3: logits c0 [5, 0, 0], c1 [0, 5, 5] (class 1 = thing); center logits [−3, 0, −3]
    // sigmoid → [.047, .5, .047]: one center at x = 1 → pixels 1 and 2 are car #1 = 1·256 + 1
    const r = postprocessPanopticDeepLab(
      { height: 1, width: 3, semantic: { logits: Float32Array.of(5, 0, 0, 0, 5, 5), channels: 2 }, center: Float32Array.of(-3, 0, -3), offsets: new Float32Array(6) },
      new Set([1]),
      { centerActivation: "SIGMOID", nmsKernel: 1, labelDivisor: 256 },
    );
    expect(Array.from(r.panoptic)).toEqual([0, 257, 257]);
    expect(Array.from(r.semantic)).toEqual([0, 1, 1]);
  });

  it("rejects mis-shaped heads and bad options, naming them", () => {
    const base = { height: H, width: W, semantic: { classIds: sem }, center: heatmap(), offsets: new Float32Array(2 * H * W) };
    expect(() => postprocessPanopticDeepLab({ ...base, center: new Float32Array(3) }, things)).toThrow(/PANOPTIC_CENTER/);
    expect(() => postprocessPanopticDeepLab({ ...base, offsets: new Float32Array(3) }, things)).toThrow(/PANOPTIC_OFFSET/);
    try {
      resolvePanopticPostprocess({ nmsKernel: 4 });
      throw new Error("accepted an even kernel");
    } catch (e) {
      expect(e).toBeInstanceOf(DomainError);
      expect((e as DomainError).field).toBe("inference.postprocess.nmsKernel");
    }
    expect(resolvePanopticPostprocess({})).toMatchObject({ centerThreshold: 0.1, nmsKernel: 7, topK: 200, stuffArea: 0, thingArea: 0, labelDivisor: 1000, offsetOrder: "YX", centerActivation: "NONE" });
  });
});

describe("postprocessPanopticDeepLab against torch (fixtures/make_panoptic_fixtures.py)", () => {
  const fx = JSON.parse(readFileSync(join(__dirname, "fixtures", "panoptic_fixtures.json"), "utf8")) as {
    cases: Array<{ H: number; W: number; C: number; things: number[]; options: Record<string, number>; semantic: number[]; center: number[]; offsets: number[]; centers: number[][]; panoptic: number[] }>;
  };
  it.each(fx.cases.map((c, i) => [i, c] as const))("case %i", (_i, c) => {
    const r = postprocessPanopticDeepLab(
      { height: c.H, width: c.W, semantic: { logits: Float32Array.from(c.semantic), channels: c.C }, center: Float32Array.from(c.center), offsets: Float32Array.from(c.offsets) },
      new Set(c.things),
      c.options,
    );
    expect(r.centers.map((p) => [p.y, p.x])).toEqual(c.centers);
    expect(Array.from(r.panoptic)).toEqual(c.panoptic);
  });
});

describe("findInstanceCenters against detectron2's find_instance_center run in torch (fixtures/make_panoptic_fixtures.py)", () => {
  const fx = JSON.parse(readFileSync(join(__dirname, "fixtures", "panoptic_fixtures.json"), "utf8")) as {
    centerCases: Array<{ H: number; W: number; threshold: number; nmsKernel: number; topK: number; heatBits: number[]; centers: number[][] }>;
  };
  it("holds ties, at-threshold scores and NaN cases", () => {
    const heats = fx.centerCases.map((c) => new Float32Array(Int32Array.from(c.heatBits).buffer));
    expect(heats.some((h) => h.some(Number.isNaN))).toBe(true);
    expect(heats.some((h) => h.includes(Math.fround(0.3)))).toBe(true);
    expect(fx.centerCases.some((c) => c.centers.length === 0)).toBe(true);
  });
  it.each(fx.centerCases.map((c, i) => [i, c.H, c.W, c.nmsKernel, c.topK, c] as const))("case %i: %i×%i, kernel %i, top-k %i", (_i, _h, _w, _k, _t, c) => {
    const heat = new Float32Array(Int32Array.from(c.heatBits).buffer);
    expect(findInstanceCenters(heat, c.H, c.W, c.threshold, c.nmsKernel, c.topK).map((p) => [p.y, p.x])).toEqual(c.centers);
  });
});
