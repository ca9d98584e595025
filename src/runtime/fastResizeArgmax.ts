import { bilinearTaps, semanticArgmax, type BilinearTaps, type ClassIdArray } from "../core/eval";
import { badInput } from "../core/errors";
import { BlendRows } from "../core/eval/simd/classKernels";

/**
 * Same result as core's resizeArgmax (argmax of the bilinearly resized logits, half-pixel
 * centres, ties to the lowest class), several times faster for upscaling, where it dominated the
 * evaluation (Cityscapes-style labels at 2× the model's resolution: ~190 ms of 512² → 1024²
 * resizing per image for 19 classes, more than the model itself).
 *
 * Why it is exact: an output pixel is a convex combination (weights ≥ 0) of four source pixels.
 * If one class c is the argmax at all four, L_c ≥ L_j holds at each and so in the combination,
 * for every j; and j < c cannot tie with c in the combination without tying at every corner
 * with positive weight, where c would not have won. So c is the answer, with no blending at all.
 * Only pixels whose four taps disagree — class boundaries, a few percent of a segmentation map —
 * are blended, with resizeArgmax's arithmetic (horizontal taps rounded to float32, vertical in
 * float64), so they agree with it bit for bit; elsewhere the result is the exact-arithmetic one,
 * which could differ from a float implementation only on a tie within rounding error.
 *
 * A row where many pixels need blending (an untrained or noisy model: most of them) is blended
 * whole, channel by channel: the horizontal taps of its two source rows are computed once per
 * source row (an upscale reuses each for two or more output rows) and the vertical sum and running
 * maximum stream over the row, the same float32/float64 arithmetic and comparison order, so the
 * same bits; its agreeing pixels still take the class of their taps.
 *
 * Should move next to resizeArgmax in src/core/eval/resize (runtime cannot edit core).
 */
export function fastResizeArgmax(logits: Float32Array, channels: number, inH: number, inW: number, outH: number, outW: number): ClassIdArray {
  const dst = channels <= 256 ? new Uint8Array(outH * outW) : new Uint16Array(outH * outW);
  resizeArgmaxRows(logits, channels, inH, inW, outH, outW, (oy, row) => dst.set(row, oy * outW));
  return dst;
}

/**
 * fastResizeArgmax one output row at a time: `emit(oy, row)` gets row oy's class ids (a buffer
 * reused for the next row, so the caller copies or consumes it at once, and never writes to it:
 * a row from the same source rows as the one before keeps its agreeing pixels). Lets a caller
 * score the rows against the label without the full-size map.
 */
export function resizeArgmaxRows(logits: Float32Array, channels: number, inH: number, inW: number, outH: number, outW: number, emit: (oy: number, row: Uint8Array | Uint16Array) => void): void {
  if (logits.length !== channels * inH * inW) throw badInput(`logits hold ${logits.length} values, expected ${channels}×${inH}×${inW} = ${channels * inH * inW}`);
  if (inH === outH && inW === outW) {
    const src = semanticArgmax(logits, channels, inH, inW);
    for (let oy = 0; oy < outH; oy++) emit(oy, src.subarray(oy * outW, (oy + 1) * outW) as Uint8Array | Uint16Array);
    return;
  }
  // The working arrays of the last call are reused (a search resizes thousands of small maps, where
  // allocating them cost as much as the arithmetic); a call from inside `emit` gets its own.
  const w = scratch && !scratch.busy ? scratch : new Scratch();
  scratch = w;
  w.busy = true;
  try {
    resizeRows(w, logits, channels, inH, inW, outH, outW, emit);
  } finally {
    w.busy = false;
  }
}

/** Working arrays of resizeArgmaxRows, grown as needed and kept for the next call. */
class Scratch {
  busy = false;
  winners = new Float32Array(0);
  src8 = new Uint8Array(0);
  src16 = new Uint16Array(0);
  out8 = new Uint8Array(0);
  out16 = new Uint16Array(0);
  cell = new Int32Array(0);
  mixedAt = new Int32Array(0);
  best = new Float64Array(0);
  arg = new Uint16Array(0);
  best2 = new Float64Array(0);
  arg2 = new Uint16Array(0);
  rowA = new Float32Array(0);
  rowB = new Float32Array(0);
  /** The SIMD row blend with its own memory (made on first use; null without WebAssembly SIMD). */
  blend: BlendRows | null | undefined = undefined;
  /** Bilinear taps by size pair (a model's output and a dataset's image sizes: a handful). */
  taps = new Map<string, BilinearTaps>();

  tapsOf(inSize: number, outSize: number): BilinearTaps {
    const key = `${inSize}>${outSize}`;
    let t = this.taps.get(key);
    if (!t) {
      if (this.taps.size >= 16) this.taps.clear();
      t = bilinearTaps(inSize, outSize);
      this.taps.set(key, t);
    }
    return t;
  }
}

let scratch: Scratch | null = null;

function grown<T extends Float32Array | Float64Array | Int32Array | Uint8Array | Uint16Array>(a: T, n: number): T {
  return a.length >= n ? (a.subarray(0, n) as T) : (new (a.constructor as new (n: number) => T)(n));
}

function resizeRows(w: Scratch, logits: Float32Array, channels: number, inH: number, inW: number, outH: number, outW: number, emit: (oy: number, row: Uint8Array | Uint16Array) => void): void {
  const plane = inH * inW;
  const wide = channels > 256;
  w.winners = grown(w.winners, plane);
  if (wide) w.src16 = grown(w.src16, plane);
  else w.src8 = grown(w.src8, plane);
  const winners = w.winners;
  const src = semanticArgmax(logits, channels, inH, inW, wide ? w.src16 : w.src8, winners);
  // The shortcut below needs every source pixel's winning logit finite: a +∞ makes a blend ∞ · 0
  // = NaN at a tap of zero weight, and a NaN in class 0 wins the source pixel (nothing compares
  // greater) but never a blend. Otherwise every pixel is blended, as resizeArgmax does.
  const shortcut = allFinite(winners);
  if (wide) w.out16 = grown(w.out16, outW);
  else w.out8 = grown(w.out8, outW);
  const out = wide ? w.out16 : w.out8;
  const ty = w.tapsOf(inH, outH);
  const tx = w.tapsOf(inW, outW);
  // Whole-row blends run on a WebAssembly SIMD kernel (same bits) when the classes fit a byte:
  // the resampled source rows are then written straight into its memory.
  if (!wide && w.blend === undefined) w.blend = BlendRows.create();
  const kernel = wide ? null : (w.blend ?? null);
  const simd = kernel !== null && kernel.reserve(channels, inW, tx);
  if (!simd) {
    w.rowA = grown(w.rowA, channels * outW);
    w.rowB = grown(w.rowB, channels * outW);
  }
  const rows = new RowCache(logits, channels, plane, inW, tx, outW, simd ? kernel.rowA : w.rowA, simd ? kernel.rowB : w.rowB, simd ? kernel : null);
  // cell[x]: the class the four source pixels (r0 | r1) × (x | x + 1) share, or -1 (at the last
  // column, the two of column x). A pixel's taps are columns i0 and i1 = i0 + 1 (or i0 at the
  // right edge), so its four-tap test is one lookup, cell[i0]. Rebuilt when the row pair changes:
  // an upscale keeps it for two or more output rows.
  const cell = (w.cell = grown(w.cell, inW));
  let cellRows = -1;
  const mixedAt = (w.mixedAt = grown(w.mixedAt, outW));
  const best = (w.best = grown(w.best, outW));
  const arg = (w.arg = grown(w.arg, outW));
  // An upscale gives two or more consecutive output rows the same two source rows, and so the
  // same mixed pixels: a whole-row blend does the next such row in the same pass (each source
  // value read once for both), and that row takes its classes from arg2.
  const best2 = (w.best2 = grown(w.best2, outW));
  const arg2 = (w.arg2 = grown(w.arg2, outW));
  let blendedAhead = -1;
  /** Where the row blended ahead keeps its classes (arg2, or the kernel's). */
  let aheadIds: Uint8Array | Uint16Array = arg2;
  // `out` holds the agreeing pixels of the source row pair `laidOut` and `mixedAt` its `mixed`
  // pixels: an output row with the same two source rows as the row before needs neither again
  // (emit only reads `out`; the mixed pixels are overwritten below for each row).
  let laidOut = -1;
  let mixed = 0;
  for (let oy = 0; oy < outH; oy++) {
    const r0 = ty.i0[oy] * inW;
    const r1 = ty.i1[oy] * inW;
    const wy0 = ty.w0[oy];
    const wy1 = ty.w1[oy];
    const pair = r0 * (inH + 1) + r1;
    if (laidOut !== pair) {
      laidOut = pair;
      if (!shortcut) cell.fill(-1);
      else if (cellRows !== pair) {
        cellRows = pair;
        let right = src[r0 + inW - 1] === src[r1 + inW - 1] ? src[r0 + inW - 1] : -1;
        cell[inW - 1] = right;
        for (let x = inW - 2; x >= 0; x--) {
          const c = src[r0 + x];
          const left = c === src[r1 + x] ? c : -1;
          cell[x] = left === right ? left : -1;
          right = left;
        }
      }
      // the class all four taps share, else the pixel is mixed and blended below
      mixed = 0;
      const i0 = tx.i0;
      for (let ox = 0; ox < outW; ox++) {
        const c = cell[i0[ox]];
        if (c >= 0) out[ox] = c;
        else mixedAt[mixed++] = ox;
      }
    }
    if (blendedAhead === oy) {
      for (let m = 0; m < mixed; m++) out[mixedAt[m]] = aheadIds[mixedAt[m]];
    } else if (mixed * 4 > outW && simd) {
      const a = rows.row(ty.i0[oy]);
      const b = rows.row(ty.i1[oy], a);
      const next = oy + 1;
      if (next < outH && ty.i0[next] === ty.i0[oy] && ty.i1[next] === ty.i1[oy]) {
        kernel.blend2(a, b, wy0, wy1, ty.w0[next], ty.w1[next]);
        aheadIds = kernel.arg2;
        blendedAhead = next;
      } else {
        kernel.blend(a, b, wy0, wy1);
      }
      const blended = kernel.arg;
      for (let m = 0; m < mixed; m++) out[mixedAt[m]] = blended[mixedAt[m]];
    } else if (mixed * 4 > outW) {
      const a = rows.row(ty.i0[oy]);
      const b = rows.row(ty.i1[oy], a);
      best.fill(-Infinity);
      arg.fill(0);
      const next = oy + 1;
      if (next < outH && ty.i0[next] === ty.i0[oy] && ty.i1[next] === ty.i1[oy]) {
        // this row and the next, from the same source rows with their own weights
        const wz0 = ty.w0[next];
        const wz1 = ty.w1[next];
        best2.fill(-Infinity);
        arg2.fill(0);
        for (let k = 0; k < channels; k++) {
          const base = k * outW;
          for (let ox = 0; ox < outW; ox++) {
            const x = a[base + ox];
            const y = b[base + ox];
            const v = x * wy0 + y * wy1;
            if (v > best[ox]) {
              best[ox] = v;
              arg[ox] = k;
            }
            const u = x * wz0 + y * wz1;
            if (u > best2[ox]) {
              best2[ox] = u;
              arg2[ox] = k;
            }
          }
        }
        blendedAhead = next;
        aheadIds = arg2;
      } else {
        for (let k = 0; k < channels; k++) {
          const base = k * outW;
          for (let ox = 0; ox < outW; ox++) {
            const v = a[base + ox] * wy0 + b[base + ox] * wy1;
            if (v > best[ox]) {
              best[ox] = v;
              arg[ox] = k;
            }
          }
        }
      }
      for (let m = 0; m < mixed; m++) out[mixedAt[m]] = arg[mixedAt[m]];
    } else {
      // Mixed pixels one by one. When the next row has the same source rows, it is blended here
      // too: each pixel's horizontal taps once, two vertical blends with each row's own weights
      // (the next row's classes go to arg2).
      const both = oy + 1 < outH && ty.i0[oy + 1] === ty.i0[oy] && ty.i1[oy + 1] === ty.i1[oy];
      const wz0 = both ? ty.w0[oy + 1] : 0;
      const wz1 = both ? ty.w1[oy + 1] : 0;
      for (let m = 0; m < mixed; m++) {
        const ox = mixedAt[m];
        const x0 = tx.i0[ox];
        const x1 = tx.i1[ox];
        const wx0 = tx.w0[ox];
        const wx1 = tx.w1[ox];
        let bestV = -Infinity;
        let bestK = 0;
        let bestU = -Infinity;
        let bestJ = 0;
        for (let k = 0; k < channels; k++) {
          const base = k * plane;
          const a = Math.fround(logits[base + r0 + x0] * wx0 + logits[base + r0 + x1] * wx1);
          const b = Math.fround(logits[base + r1 + x0] * wx0 + logits[base + r1 + x1] * wx1);
          const v = a * wy0 + b * wy1;
          if (v > bestV) {
            bestV = v;
            bestK = k;
          }
          if (both) {
            const u = a * wz0 + b * wz1;
            if (u > bestU) {
              bestU = u;
              bestJ = k;
            }
          }
        }
        out[ox] = bestK;
        arg2[ox] = bestJ;
      }
      if (both) {
        blendedAhead = oy + 1;
        aheadIds = arg2;
      }
    }
    emit(oy, out);
  }
}

/**
 * Whether every pixel's winning logit is below +∞ and not NaN (−∞ wins a pixel only when every
 * class is −∞ there, and then blends to −∞ or NaN for every class alike, as the shortcut assumes).
 */
function allFinite(winners: Float32Array): boolean {
  for (let i = 0; i < winners.length; i++) if (!(winners[i]! < Infinity)) return false;
  return true;
}

/** Horizontally resized source rows, [channels][outW] float32 each (the rounding of the per-pixel path), two kept: consecutive output rows share source rows. */
class RowCache {
  private readonly keys = [-1, -1];
  private readonly data: [Float32Array, Float32Array];
  private next = 0;

  /** `kernel`: resizes the rows (a and b are its rowA and rowB) instead of the loop below, same bits. */
  constructor(private readonly logits: Float32Array, private readonly channels: number, private readonly plane: number, private readonly inW: number, private readonly tx: BilinearTaps, private readonly outW: number, a: Float32Array, b: Float32Array, private readonly kernel: BlendRows | null) {
    this.data = [a, b];
  }

  /** Source row `y`; a row not cached replaces the one that is not `keep`. */
  row(y: number, keep?: Float32Array): Float32Array {
    if (this.keys[0] === y) return this.data[0];
    if (this.keys[1] === y) return this.data[1];
    const slot = keep === this.data[0] ? 1 : keep === this.data[1] ? 0 : this.next;
    this.next = 1 - slot;
    this.keys[slot] = y;
    const out = this.data[slot];
    if (this.kernel) {
      this.kernel.resample(this.logits, this.plane, y, out);
      return out;
    }
    const { logits, outW, plane } = this;
    const { i0, i1, w0, w1 } = this.tx;
    for (let k = 0; k < this.channels; k++) {
      const s = k * plane + y * this.inW;
      const d = k * outW;
      for (let ox = 0; ox < outW; ox++) out[d + ox] = logits[s + i0[ox]] * w0[ox] + logits[s + i1[ox]] * w1[ox];
    }
    return out;
  }
}
