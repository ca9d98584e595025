import { invariant } from "../errors";
import type { DType } from "../structure/types";
import { bf16Lookup, decodeToFloat32, f16Lookup } from "./decodeFloats";
import { viewAs } from "./floatArrays";

/*
 * The scalar kernel behind the fused weighted sum (layerwiseAccumulator.ts uses it when
 * WebAssembly SIMD is not available). Arithmetic is float32: every product is rounded with
 * Math.fround and every sum by the store, which is exactly IEEE float32.
 */

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
