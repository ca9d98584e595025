import { fastExp, fastLog } from "./fastExpLog";

/** Pixels per block of probabilityStats: a block's class planes (C × 256 float64) stay in cache. */
export const BLOCK = 256;

/** Per-block working arrays: e_c per class and pixel, and per pixel the max, Z (then 1/Z) and S. */
export interface LogitsScratch {
  e: Float64Array;
  max: Float64Array;
  z: Float64Array;
  s: Float64Array;
}

export const logitsScratch = (classes: number): LogitsScratch => ({
  e: new Float64Array(classes * BLOCK),
  max: new Float64Array(BLOCK),
  z: new Float64Array(BLOCK),
  s: new Float64Array(BLOCK),
});

/**
 * One block of n ≤ BLOCK pixels from pixel i0 of planar logits [C, pixels]: adds the block's
 * Σ p_c to stats[c] and returns its Σ H (nats).
 *
 * Per pixel, with m its largest logit, e_c = exp(x_c − m), Z = Σ e_c, S = Σ e_c (x_c − m):
 * p_c = e_c / Z and H = log Z − S / Z (a class with e_c = 0 adds nothing, as 0 · log 0).
 * The block's sums over pixels run in two partial sums, even and odd pixels, added at the
 * end of the block: the order the two-lane SIMD kernel (simd/probabilityKernels.wat) sums in,
 * so both give the same bits.
 */
export function logitsBlockScalar(scores: Float32Array | Float64Array, classes: number, pixels: number, i0: number, n: number, w: LogitsScratch, stats: Float64Array): number {
  const { e, max, z, s } = w;
  for (let k = 0; k < n; k++) max[k] = scores[i0 + k];
  for (let c = 1; c < classes; c++) {
    const o = c * pixels + i0;
    for (let k = 0; k < n; k++) {
      const v = scores[o + k];
      if (v > max[k]) max[k] = v;
    }
  }
  z.fill(0, 0, n);
  s.fill(0, 0, n);
  for (let c = 0; c < classes; c++) {
    const o = c * pixels + i0;
    const b = c * BLOCK;
    for (let k = 0; k < n; k++) {
      const d = scores[o + k] - max[k];
      const v = fastExp(d);
      e[b + k] = v;
      z[k] += v;
      if (v > 0) s[k] += v * d;
    }
  }
  let h0 = 0;
  let h1 = 0;
  for (let k = 0; k < n; k++) {
    const inv = 1 / z[k];
    const h = fastLog(z[k]) - s[k] * inv;
    if ((k & 1) === 0) h0 += h;
    else h1 += h;
    z[k] = inv;
  }
  for (let c = 0; c < classes; c++) {
    const b = c * BLOCK;
    let a0 = 0;
    let a1 = 0;
    let k = 0;
    for (; k + 1 < n; k += 2) {
      a0 += e[b + k] * z[k];
      a1 += e[b + k + 1] * z[k + 1];
    }
    if (k < n) a0 += e[b + k] * z[k];
    stats[c] += a0 + a1;
  }
  return h0 + h1;
}
