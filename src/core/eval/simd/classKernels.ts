import { instantiateWasm } from "../../wasmModules";
import type { BilinearTaps } from "../resize/bilinearTaps";
import { CLASS_KERNELS_WASM_BASE64 } from "./classKernelsWasm";

interface Kernels {
  memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  argmax(src: number, stride: number, classes: number, count: number, ids: number, win: number): void;
  blend(a: number, b: number, rowBytes: number, classes: number, count: number, wy0: number, wy1: number, arg: number): void;
  blend2(a: number, b: number, rowBytes: number, classes: number, count: number, wy0: number, wy1: number, wz0: number, wz1: number, arg: number, arg2: number): void;
  resample(src: number, inBytes: number, classes: number, count: number, taps: number, dst: number): void;
}


const PAGE = 65536;
/** Pixels per argmax block: 19 class rows of it (152 KiB) stay in a core's L2 between the copy and the kernel. */
const BLOCK = 2048;
/** The kernels run whole vectors, reading and writing up to 16 bytes past each area. */
const SLACK = 16;

const align16 = (n: number) => (n + 15) & ~15;

/** Grows a kernel instance's memory to hold `bytes`. */
function reserve(k: Kernels, bytes: number): void {
  const have = k.memory.buffer.byteLength;
  if (bytes > have) k.memory.grow(Math.ceil((bytes - have) / PAGE));
}

let argmaxKernels: Kernels | null | undefined;

/**
 * semanticArgmax on classKernels.wat: per pixel the class with the largest logit, ties to the
 * lowest class, a NaN never winning — the scalar scan's bits, four pixels per instruction. The
 * logits are copied into the kernel's memory a block of pixels at a time (every class row of the
 * block), the block's classes and winning values copied out. False (nothing written) when the
 * runtime lacks WebAssembly SIMD or the classes do not fit a byte.
 */
export function simdArgmax(logits: Float32Array, channels: number, plane: number, dst: Uint8Array, winners: Float32Array | null): boolean {
  if (channels < 1 || channels > 256) return false;
  if (argmaxKernels === undefined) argmaxKernels = instantiateWasm(CLASS_KERNELS_WASM_BASE64) as Kernels | null;
  const k = argmaxKernels;
  if (!k) return false;
  const src = 0;
  const ids = align16(channels * BLOCK * 4 + SLACK);
  const win = align16(ids + BLOCK + SLACK);
  reserve(k, win + BLOCK * 4 + SLACK);
  const f32 = new Float32Array(k.memory.buffer);
  const u8 = new Uint8Array(k.memory.buffer);
  for (let start = 0; start < plane; start += BLOCK) {
    const n = Math.min(BLOCK, plane - start);
    for (let c = 0; c < channels; c++) {
      const from = c * plane + start;
      f32.set(logits.subarray(from, from + n), c * BLOCK);
    }
    k.argmax(src, BLOCK * 4, channels, n, ids, win);
    dst.set(u8.subarray(ids, ids + n), start);
    if (winners) winners.set(f32.subarray(win / 4, win / 4 + n), start);
  }
  return true;
}

/**
 * The rows of a bilinear resize + argmax on classKernels.wat. `resample` resizes a source row of
 * every class horizontally into rowA or rowB, [classes][width] float32 in the kernel's memory
 * (each value a float64 sum rounded once to float32, as a store into a Float32Array); `blend` /
 * `blend2` write the classes of one or two output rows into `arg` / `arg2` — per pixel the
 * largest a·wy0 + b·wy1 in float64, ties to the lowest class. The scalar loops' bits, the blend
 * two pixels per instruction. Each instance has its own memory; views are replaced when
 * `reserve` grows it, so callers take them after it.
 */
export class BlendRows {
  /** A kernel instance with its own memory; null without WebAssembly SIMD. */
  static create(): BlendRows | null {
    const k = instantiateWasm(CLASS_KERNELS_WASM_BASE64) as Kernels | null;
    return k ? new BlendRows(k) : null;
  }

  rowA = new Float32Array(0);
  rowB = new Float32Array(0);
  arg = new Uint8Array(0);
  arg2 = new Uint8Array(0);
  private classes = 0;
  private inWidth = 0;
  private width = 0;
  private taps: BilinearTaps | null = null;
  private ptrB = 0;
  private ptrArg = 0;
  private ptrArg2 = 0;
  private ptrTaps = 0;
  private ptrSrc = 0;
  private src = new Float32Array(0);

  private constructor(private readonly k: Kernels) {}

  /**
   * Sizes the areas for `classes` (≤ 256) source rows of `inWidth` resized to `taps` (one per
   * output pixel); false when the classes do not fit a byte.
   */
  reserve(classes: number, inWidth: number, taps: BilinearTaps): boolean {
    if (classes < 1 || classes > 256) return false;
    const width = taps.i0.length;
    if (classes === this.classes && inWidth === this.inWidth && taps === this.taps && this.rowA.buffer === this.k.memory.buffer) return true;
    const rowBytes = classes * width * 4;
    this.ptrB = align16(rowBytes + SLACK);
    this.ptrArg = this.ptrB + align16(rowBytes + SLACK);
    this.ptrArg2 = this.ptrArg + align16(width + SLACK);
    this.ptrTaps = this.ptrArg2 + align16(width + SLACK);
    this.ptrSrc = this.ptrTaps + width * 24;
    reserve(this.k, this.ptrSrc + classes * inWidth * 4 + SLACK);
    const buffer = this.k.memory.buffer;
    this.rowA = new Float32Array(buffer, 0, classes * width);
    this.rowB = new Float32Array(buffer, this.ptrB, classes * width);
    this.arg = new Uint8Array(buffer, this.ptrArg, width);
    this.arg2 = new Uint8Array(buffer, this.ptrArg2, width);
    this.src = new Float32Array(buffer, this.ptrSrc, classes * inWidth);
    const offsets = new Int32Array(buffer, this.ptrTaps, width * 2);
    const weights = new Float64Array(buffer, this.ptrTaps + width * 8, width * 2);
    for (let x = 0; x < width; x++) {
      offsets[2 * x] = taps.i0[x] * 4;
      offsets[2 * x + 1] = taps.i1[x] * 4;
      weights[2 * x] = taps.w0[x];
      weights[2 * x + 1] = taps.w1[x];
    }
    this.classes = classes;
    this.inWidth = inWidth;
    this.width = width;
    this.taps = taps;
    return true;
  }

  /** Source row y of planar logits [classes, ·, inWidth] (class planes `plane` apart), resized horizontally into `into` (rowA or rowB). */
  resample(logits: Float32Array, plane: number, y: number, into: Float32Array): void {
    const w = this.inWidth;
    for (let c = 0; c < this.classes; c++) {
      const from = c * plane + y * w;
      this.src.set(logits.subarray(from, from + w), c * w);
    }
    this.k.resample(this.ptrSrc, w * 4, this.classes, this.width, this.ptrTaps, this.ptr(into));
  }

  private ptr(row: Float32Array): number {
    return row === this.rowA ? 0 : this.ptrB;
  }

  /** Classes of one output row into `arg`: a and b are rowA / rowB (either order, or the same). */
  blend(a: Float32Array, b: Float32Array, wy0: number, wy1: number): void {
    this.k.blend(this.ptr(a), this.ptr(b), this.width * 4, this.classes, this.width, wy0, wy1, this.ptrArg);
  }

  /** Classes of two output rows with the same source rows into `arg` (weights wy) and `arg2` (weights wz). */
  blend2(a: Float32Array, b: Float32Array, wy0: number, wy1: number, wz0: number, wz1: number): void {
    this.k.blend2(this.ptr(a), this.ptr(b), this.width * 4, this.classes, this.width, wy0, wy1, wz0, wz1, this.ptrArg, this.ptrArg2);
  }
}
