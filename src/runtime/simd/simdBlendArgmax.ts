import { instantiateWasm } from "../../core/wasmModules";
import { RESIZE_KERNELS_WASM_BASE64 } from "./resizeKernelsWasm";

interface Kernels {
  memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  blendArgmax(a: number, b: number, wy0: number, wy1: number, channels: number, n: number, width: number, out: number): void;
}

const PAGE = 65536;

let kernels: Kernels | null | undefined;

/** This thread's kernel instance; null without WebAssembly SIMD. */
function instance(): Kernels | null {
  if (kernels === undefined) kernels = instantiateWasm(RESIZE_KERNELS_WASM_BASE64) as Kernels | null;
  return kernels;
}

/**
 * The working space of one resize in the kernel's memory: the two horizontally resized source
 * rows (float32 [channels][width] each) that the caller fills, and `blend`, which writes the
 * output row's class ids into `arg`. The views stay valid until the next `simdBlendSpace` on this
 * thread (which may grow the memory); a resize uses one space from start to end, synchronously.
 */
export interface BlendSpace {
  rows: [Float32Array, Float32Array];
  arg: Uint16Array;
  /** arg[x] = argmax over classes k of first[k][x]·wy0 + second[k][x]·wy1 (float64, ties to the lowest k). */
  blend(first: Float32Array, second: Float32Array, wy0: number, wy1: number): void;
}

/** A space for rows of `channels` × `width`, or null when WebAssembly SIMD is not available (or `disabled`). */
export function simdBlendSpace(channels: number, width: number, disabled = false): BlendSpace | null {
  const k = disabled ? null : instance();
  if (!k) return null;
  const rowBytes = channels * width * 4;
  const argAt = 2 * rowBytes;
  const need = argAt + width * 2;
  if (need > k.memory.buffer.byteLength) k.memory.grow(Math.ceil((need - k.memory.buffer.byteLength) / PAGE));
  const buffer = k.memory.buffer;
  const rows: [Float32Array, Float32Array] = [new Float32Array(buffer, 0, channels * width), new Float32Array(buffer, rowBytes, channels * width)];
  const arg = new Uint16Array(buffer, argAt, width);
  const whole = width & ~3;
  return {
    rows,
    arg,
    blend(first, second, wy0, wy1) {
      k.blendArgmax(first.byteOffset, second.byteOffset, wy0, wy1, channels, whole, width, argAt);
      // The last width mod 4 pixels, with the kernel's arithmetic.
      for (let x = whole; x < width; x++) {
        let best = -Infinity;
        let bestK = 0;
        for (let c = 0; c < channels; c++) {
          const v = first[c * width + x] * wy0 + second[c * width + x] * wy1;
          if (v > best) {
            best = v;
            bestK = c;
          }
        }
        arg[x] = bestK;
      }
    },
  };
}
