import { badInput, invariant } from "../../errors";
import { bilinearTaps } from "./bilinearTaps";
import { SlideWindow } from "./planSlideWindows";

/**
 * Sums window logits into full-image logits and divides by the number of windows covering each
 * pixel, as mmsegmentation's `slide_inference` (`preds += pad(crop_logit)`, `count_mat += 1`,
 * `preds / count_mat`). Window logits are first resized bilinearly (half-pixel centres) from the
 * model's output size to its input size, as `encode_decode` does, and only the window's part of
 * that (not the padding) is added. The full map is [C, H, W] float32 at the resized image size;
 * the caller then resizes it to label resolution (resizeArgmax).
 */
export class SlideAccumulator {
  readonly sum: Float32Array;
  private readonly count: Uint16Array;

  constructor(readonly channels: number, readonly height: number, readonly width: number) {
    this.sum = new Float32Array(channels * height * width);
    this.count = new Uint16Array(height * width);
  }

  /**
   * Adds the logits [C, logitsH, logitsW] the model produced for `win` padded to inputH × inputW
   * (default: the window's own size).
   */
  add(win: SlideWindow, logits: Float32Array, logitsH: number, logitsW: number, inputH = win.y2 - win.y1, inputW = win.x2 - win.x1): void {
    const h = win.y2 - win.y1;
    const w = win.x2 - win.x1;
    const C = this.channels;
    if (logits.length !== C * logitsH * logitsW) throw badInput(`window logits hold ${logits.length} values, expected ${C}×${logitsH}×${logitsW}`);
    if (win.y1 < 0 || win.x1 < 0 || win.y2 > this.height || win.x2 > this.width || h > inputH || w > inputW) {
      throw badInput(`window ${JSON.stringify(win)} does not fit the ${this.width}×${this.height} image or the ${inputW}×${inputH} input`);
    }
    const ty = bilinearTaps(logitsH, inputH);
    const tx = bilinearTaps(logitsW, inputW);
    const plane = logitsH * logitsW;
    for (let c = 0; c < C; c++) {
      for (let y = 0; y < h; y++) {
        const r0 = c * plane + ty.i0[y] * logitsW;
        const r1 = c * plane + ty.i1[y] * logitsW;
        const wy0 = ty.w0[y];
        const wy1 = ty.w1[y];
        const o = c * this.height * this.width + (win.y1 + y) * this.width + win.x1;
        for (let x = 0; x < w; x++) {
          const a = Math.fround(logits[r0 + tx.i0[x]] * tx.w0[x] + logits[r0 + tx.i1[x]] * tx.w1[x]);
          const b = Math.fround(logits[r1 + tx.i0[x]] * tx.w0[x] + logits[r1 + tx.i1[x]] * tx.w1[x]);
          this.sum[o + x] += a * wy0 + b * wy1;
        }
      }
    }
    for (let y = win.y1; y < win.y2; y++) {
      for (let x = win.x1; x < win.x2; x++) this.count[y * this.width + x] += 1;
    }
  }

  /** The averaged logits [C, H, W] (in place; the accumulator is spent afterwards). */
  finish(): Float32Array {
    const plane = this.height * this.width;
    for (let i = 0; i < plane; i++) {
      const n = this.count[i];
      invariant(n > 0, `pixel ${i} is covered by a slide window`);
      if (n === 1) continue;
      for (let c = 0; c < this.channels; c++) this.sum[c * plane + i] /= n;
    }
    return this.sum;
  }
}
