import { instantiateWasm } from "../../wasmModules";
import { prng } from "../../testing/prng";
import { EXP_TABLE, LOG_C, LOG_INV_C, LOG_OF_C } from "../fastExpLog";
import { probabilityStats } from "../imageStats";
import { BLOCK, logitsBlockScalar, logitsScratch } from "../logitsBlock";
import { PROBABILITY_KERNELS_WASM_BASE64 } from "./probabilityKernelsWasm";
import { simdLogitsStats } from "./simdLogitsStats";

/** Planar [C, pixels] float32 logits from a per-pixel generator of C values. */
function planar(classes: number, pixels: number, pixel: (i: number) => number[]): Float32Array {
  const out = new Float32Array(classes * pixels);
  for (let i = 0; i < pixels; i++) pixel(i).forEach((v, c) => (out[c * pixels + i] = v));
  return out;
}

/** Every statistic the same double (NaN where the other has NaN, −0 apart from +0). */
function expectSameBits(a: Float64Array, b: Float64Array) {
  expect(a.length).toBe(b.length);
  const differ = Array.from(a).flatMap((v, i) => (Object.is(v, b[i]) ? [] : [`${i}: ${v} vs ${b[i]}`]));
  expect(differ).toEqual([]);
}

const simd = (l: Float32Array, classes: number, pixels: number) => probabilityStats(l, classes, pixels, "LOGITS");
const scalar = (l: Float32Array, classes: number, pixels: number) => probabilityStats(l, classes, pixels, "LOGITS", "scalar");

describe("probability statistics: the WebAssembly SIMD kernel against the scalar path", () => {
  const random = prng(424242);

  it("runs here (Node has WebAssembly SIMD), so the comparisons below exercise the kernel", () => {
    const l = planar(3, BLOCK, () => [random(), random(), random()]);
    expect(simdLogitsStats(l, 3, BLOCK, new Float64Array(5))).not.toBeNull();
  });

  it("the kernel's block results are logitsBlockScalar's bits, and it declines NaN, ±∞ and x − max < −707", () => {
    const k = instantiateWasm(PROBABILITY_KERNELS_WASM_BASE64) as { memory: { buffer: ArrayBuffer; grow(n: number): number }; logitsBlock(src: number, stride: number, classes: number): number };
    const C = 19;
    k.memory.grow(1);
    const f64 = new Float64Array(k.memory.buffer);
    f64.set(EXP_TABLE, 0);
    f64.set(LOG_C, 1024 / 8);
    f64.set(LOG_INV_C, 3072 / 8);
    f64.set(LOG_OF_C, 5120 / 8);
    const src = 16384 + C * BLOCK * 8;
    const run = (l: Float32Array) => {
      new Float32Array(k.memory.buffer, src, C * BLOCK).set(l);
      const ok = k.logitsBlock(src, BLOCK * 4, C);
      return { ok, out: new Float64Array(k.memory.buffer, 14336, C + 1).slice() };
    };
    const reference = (l: Float32Array) => {
      const stats = new Float64Array(C);
      const h = logitsBlockScalar(l, C, BLOCK, 0, BLOCK, logitsScratch(C), stats);
      return Float64Array.of(...stats, h);
    };
    for (const scale of [0.01, 3, 30, 300]) {
      const l = planar(C, BLOCK, () => Array.from({ length: C }, () => (random() - 0.5) * scale));
      const { ok, out } = run(l);
      expect(ok).toBe(1);
      expectSameBits(out, reference(l));
    }
    // x − max just inside the fast range: the kernel keeps the block
    const edge = planar(C, BLOCK, (i) => Array.from({ length: C }, (_, c) => (c === i % C ? 700 : 700 - 706 * random())));
    expect(run(edge).ok).toBe(1);
    expectSameBits(run(edge).out, reference(edge));
    for (const bad of [NaN, Infinity, -Infinity, -1e30]) {
      const l = planar(C, BLOCK, () => Array.from({ length: C }, () => random() * 10));
      l[5 * BLOCK + 77] = bad;
      expect(run(l).ok).toBe(0);
    }
    const far = planar(C, BLOCK, () => Array.from({ length: C }, () => random() * 10));
    far[3 * BLOCK + 200] = -800; // exp(−800 − max) is below the fast range (Math's subnormal / 0)
    expect(run(far).ok).toBe(0);
  });

  it("random logits at several sizes and class counts: the same bits as the scalar path", () => {
    for (const [classes, pixels] of [[2, 256], [3, 5 * 256 + 37], [19, 64 * 64], [19, 1000], [7, 255], [1, 600], [40, 3 * 256]]) {
      const l = planar(classes, pixels, () => Array.from({ length: classes }, () => (random() - 0.5) * 20));
      expectSameBits(simd(l, classes, pixels), scalar(l, classes, pixels));
    }
  });

  it("extreme values, ties, NaN and ±∞ in some blocks: the same bits as the scalar path, and the values by hand", () => {
    const C = 5;
    const pixels = 6 * BLOCK + 11;
    const l = planar(C, pixels, (i) => {
      const b = Math.floor(i / BLOCK);
      if (b === 0) return [2, 2, 2, 2, 2]; // ties: p = 1/5 each, H = log 5
      if (b === 1) return [1e30, -1e30, 0, 3e38, -3e38]; // one class at 3e38, the rest exp(−huge) = 0
      if (b === 2) return Array.from({ length: C }, () => (random() - 0.5) * 1400); // some x − max < −707
      if (b === 3) return i === 3 * BLOCK + 9 ? [-Infinity, 0, 1, -Infinity, 2] : [random(), random(), random(), random(), random()];
      return Array.from({ length: C }, () => random() * 4);
    });
    const s = simd(l, C, pixels);
    expectSameBits(s, scalar(l, C, pixels));
    // The tie block alone: Σ p_c = 256/5, Σ H = 256 log 5.
    const ties = planar(C, BLOCK, () => [2, 2, 2, 2, 2]);
    const t = simd(ties, C, BLOCK);
    for (let c = 0; c < C; c++) expect(t[c]).toBeCloseTo(BLOCK / C, 12);
    expect(Math.abs(t[C] - BLOCK * Math.log(C)) / (BLOCK * Math.log(C))).toBeLessThan(1e-14);
    // One dominant class per pixel: H = 0 and all the mass on class 3.
    const oneHot = planar(C, BLOCK, () => [1e30, -1e30, 0, 3e38, -3e38]);
    const o = simd(oneHot, C, BLOCK);
    expect(Array.from(o)).toEqual([0, 0, 0, BLOCK, 0, 0, BLOCK]);
    // NaN in a pixel makes the image's statistics NaN, +∞ too (∞ − ∞), in both paths.
    for (const bad of [NaN, Infinity]) {
      const m = planar(C, 2 * BLOCK, () => [random(), random(), random(), random(), random()]);
      m[2 * 2 * BLOCK + 300] = bad;
      const a = simd(m, C, 2 * BLOCK);
      expectSameBits(a, scalar(m, C, 2 * BLOCK));
      expect(Number.isNaN(a[C])).toBe(true);
    }
  });

  it("equals a plain Math.exp / Math.log softmax summed with compensation to 1e-13 relative", () => {
    const C = 19;
    const pixels = 40 * 256 + 3;
    const l = planar(C, pixels, () => Array.from({ length: C }, () => (random() - 0.5) * 16));
    const s = simd(l, C, pixels);
    // Neumaier sums of the per-pixel p_c and H from Math.exp / Math.log.
    const sum = new Float64Array(C + 1);
    const comp = new Float64Array(C + 1);
    const add = (j: number, x: number) => {
      const t = sum[j] + x;
      comp[j] += Math.abs(sum[j]) >= Math.abs(x) ? sum[j] - t + x : x - t + sum[j];
      sum[j] = t;
    };
    for (let i = 0; i < pixels; i++) {
      const x = Array.from({ length: C }, (_, c) => l[c * pixels + i]);
      const m = Math.max(...x);
      const e = x.map((v) => Math.exp(v - m));
      const z = e.reduce((a, b) => a + b, 0);
      let h = 0;
      e.forEach((v, c) => {
        const p = v / z;
        add(c, p);
        if (p > 0) h -= p * Math.log(p);
      });
      add(C, h);
    }
    for (let j = 0; j <= C; j++) expect(Math.abs(s[j] - (sum[j] + comp[j])) / (sum[j] + comp[j])).toBeLessThan(1e-13);
  });
});
