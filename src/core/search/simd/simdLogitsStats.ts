import { instantiateWasm } from "../../wasmModules";
import { EXP_TABLE, LOG_C, LOG_INV_C, LOG_OF_C } from "../fastExpLog";
import { BLOCK, logitsBlockScalar, logitsScratch } from "../logitsBlock";
import { PROBABILITY_KERNELS_WASM_BASE64 } from "./probabilityKernelsWasm";

interface Kernels {
  memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  /** One block of BLOCK pixels at `src` (class planes `stride` bytes apart); 0 when the block needs the scalar path. */
  logitsBlock(src: number, stride: number, classes: number): number;
}

/** Byte offsets in the kernel's memory (probabilityKernels.wat). */
const EXP_AT = 0;
const LOG_C_AT = 1024;
const LOG_INV_C_AT = 3072;
const LOG_OF_C_AT = 5120;
const OUT_AT = 14336;
const E_AT = 16384;
/** The results area holds C + 1 float64 before E_AT. */
export const SIMD_MAX_CLASSES = (E_AT - OUT_AT) / 8 - 1;
const PAGE = 65536;

let kernels: Kernels | null | undefined;

/** This thread's kernel instance with fastExpLog's tables in place; null without WebAssembly SIMD. */
function instance(): Kernels | null {
  if (kernels === undefined) {
    const k = instantiateWasm(PROBABILITY_KERNELS_WASM_BASE64) as Kernels | null;
    if (k) {
      const f64 = new Float64Array(k.memory.buffer);
      f64.set(EXP_TABLE, EXP_AT / 8);
      f64.set(LOG_C, LOG_C_AT / 8);
      f64.set(LOG_INV_C, LOG_INV_C_AT / 8);
      f64.set(LOG_OF_C, LOG_OF_C_AT / 8);
    }
    kernels = k;
  }
  return kernels;
}

/**
 * Σ p_c per class into stats[0..C) and the returned Σ H of planar float32 logits [C, pixels],
 * on probabilityKernels.wat: two pixels per instruction, the same bits as logitsBlockScalar
 * block by block. Each block's class rows are copied next to the kernel's working arrays (one
 * L1-sized area reused), the kernel runs the fused passes on them; a block it declines (a NaN,
 * ±∞ or an x − max below −707, where exp leaves its fast path) and the last partial block run
 * in scalar. Null when WebAssembly SIMD is missing or C is over SIMD_MAX_CLASSES.
 */
export function simdLogitsStats(scores: Float32Array, classes: number, pixels: number, stats: Float64Array): number | null {
  const k = classes <= SIMD_MAX_CLASSES ? instance() : null;
  if (!k) return null;
  const rowBytes = BLOCK * 4;
  const src = E_AT + classes * BLOCK * 8;
  const need = src + classes * rowBytes;
  if (need > k.memory.buffer.byteLength) k.memory.grow(Math.ceil((need - k.memory.buffer.byteLength) / PAGE));
  const input = new Float32Array(k.memory.buffer, src, classes * BLOCK);
  const out = new Float64Array(k.memory.buffer, OUT_AT, classes + 1);
  let scratch: ReturnType<typeof logitsScratch> | null = null;
  let entropy = 0;
  const full = pixels - (pixels % BLOCK);
  for (let i0 = 0; i0 < pixels; i0 += BLOCK) {
    if (i0 < full) {
      for (let c = 0; c < classes; c++) input.set(scores.subarray(c * pixels + i0, c * pixels + i0 + BLOCK), c * BLOCK);
      if (k.logitsBlock(src, rowBytes, classes) !== 0) {
        for (let c = 0; c < classes; c++) stats[c] += out[c];
        entropy += out[classes];
        continue;
      }
    }
    scratch ??= logitsScratch(classes);
    entropy += logitsBlockScalar(scores, classes, pixels, i0, Math.min(BLOCK, pixels - i0), scratch, stats);
  }
  return entropy;
}
