import { invariant } from "../errors";
import type { DType } from "../structure/types";
import { bf16Lookup, decodeToFloat32, f16Lookup } from "./decodeFloats";
import { dropStreamWord } from "./dropMask";
import { FloatArray, viewAs } from "./floatArrays";

/*
 * Element-wise kernels of the streaming methods. Arithmetic is float32 when `acc` is a
 * Float32Array: every product is rounded with Math.fround and every sum by the store,
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

/**
 * LAYERWISE straight from an input's little-endian bytes: acc += w · x, decoding x from `dtype`
 * in the same pass (fp16 / bf16 by a 65536-entry table, so no decoded copy is made). With
 * `first`, acc is overwritten instead (acc = 0 + w · x: the same bits as adding to a zeroed
 * accumulator, −0 included), which saves clearing it. Float32 arithmetic, as addWeighted.
 */
export function accumulateWeighted(acc: Float32Array, bytes: Uint8Array, dtype: DType, w: number, first: boolean): void {
  const n = acc.length;
  const w32 = Math.fround(w);
  if (dtype === "F16" || dtype === "BF16") {
    const table = dtype === "F16" ? f16Lookup() : bf16Lookup();
    const halves = viewAs(bytes, Uint16Array);
    invariant(halves.length === n, `accumulateWeighted: ${halves.length} ${dtype} values for ${n} slots`);
    if (first) for (let i = 0; i < n; i++) acc[i] = Math.fround(w32 * table[halves[i]]) + 0;
    else for (let i = 0; i < n; i++) acc[i] += Math.fround(w32 * table[halves[i]]);
    return;
  }
  // F64 inputs round to float32 first, as decodeInto does for a float32 merge.
  const x = dtype === "F32" ? viewAs(bytes, Float32Array) : decodeToFloat32(bytes, dtype);
  invariant(x.length === n, `accumulateWeighted: ${x.length} ${dtype} values for ${n} slots`);
  if (first) for (let i = 0; i < n; i++) acc[i] = Math.fround(w32 * x[i]) + 0;
  else for (let i = 0; i < n; i++) acc[i] += Math.fround(w32 * x[i]);
}
