import { FloatArray } from "./floatArrays";
import { dropStreamWord } from "./dropMask";

/*
 * Element-wise kernels of the streaming methods. Arithmetic is float32 when `acc` is a
 * Float32Array (issue 4): every product is rounded with Math.fround and every sum by the store,
 * which is exactly IEEE float32 (float64 has more than 2·24 + 2 bits, so rounding twice is
 * harmless); with a Float64Array it is float64. Inputs are visited anchor first, then the
 * contributors in model order, so results are reproducible to the bit.
 */

/** LAYERWISE: acc += w · x. */
export function addWeighted(acc: FloatArray, x: FloatArray, w: number): void {
  const n = acc.length;
  if (acc instanceof Float32Array) {
    const w32 = Math.fround(w);
    for (let i = 0; i < n; i++) acc[i] += Math.fround(w32 * x[i]);
  } else {
    for (let i = 0; i < n; i++) acc[i] += w * x[i];
  }
}

/** TASK_ARITHMETIC: acc += w · (x − base). */
export function addWeightedDelta(acc: FloatArray, x: FloatArray, base: FloatArray, w: number): void {
  const n = acc.length;
  if (acc instanceof Float32Array) {
    const w32 = Math.fround(w);
    for (let i = 0; i < n; i++) acc[i] += Math.fround(w32 * Math.fround(x[i] - base[i]));
  } else {
    for (let i = 0; i < n; i++) acc[i] += w * (x[i] - base[i]);
  }
}

/**
 * DARE: acc += w · m_i · (x − base) / (1 − p), with m_i = 0 when element `start + i` of this
 * model's drop stream falls under the threshold (dropMask.ts). The survivor scale 1/(1 − p) is
 * rounded once to the working precision, then multiplied per element.
 */
export function addWeightedDroppedDelta(
  acc: FloatArray,
  x: FloatArray,
  base: FloatArray,
  w: number,
  drop: { key: number; threshold: number; scale: number; start: number },
): void {
  const n = acc.length;
  const { key, threshold, start } = drop;
  if (acc instanceof Float32Array) {
    const w32 = Math.fround(w);
    const scale = Math.fround(drop.scale);
    for (let i = 0; i < n; i++) {
      if (dropStreamWord(key, start + i) < threshold) continue;
      acc[i] += Math.fround(w32 * Math.fround(Math.fround(x[i] - base[i]) * scale));
    }
  } else {
    for (let i = 0; i < n; i++) {
      if (dropStreamWord(key, start + i) < threshold) continue;
      acc[i] += w * ((x[i] - base[i]) * drop.scale);
    }
  }
}

/** θ = base + λ · acc, in place in `acc`. */
export function applyTaskVector(acc: FloatArray, base: FloatArray, lambda: number): void {
  const n = acc.length;
  if (acc instanceof Float32Array) {
    const l32 = Math.fround(lambda);
    for (let i = 0; i < n; i++) acc[i] = base[i] + Math.fround(l32 * acc[i]);
  } else {
    for (let i = 0; i < n; i++) acc[i] = base[i] + lambda * acc[i];
  }
}
