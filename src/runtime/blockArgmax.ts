import { badInput } from "../core/errors";

/** Pixels per block: the block's running maximum (8 KB) and class ids stay in L1 across all channels. */
const BLOCK = 2048;
const best = new Float32Array(BLOCK);
let ids = new Uint8Array(0);

/**
 * Same result as core's semanticArgmax (per pixel the first strictly greatest channel, NaN never
 * wins over channel 0's value, ties to the lowest) for ≤ 256 channels, computed block by block:
 * all channels of 2048 pixels before the next pixels, so the running maximum is read and written
 * in L1 instead of streaming a 1 MB array through the cache once per channel pair (19 × 512²
 * logits), and with no per-image allocation. Per pixel the comparisons are semanticArgmax's, in
 * the same order (two channels at a time, then the odd one), so the bits are the same.
 *
 * The result is a buffer reused by the next call on this thread: consume or copy it first.
 */
export function blockArgmax(logits: Float32Array, channels: number, plane: number): Uint8Array {
  if (channels < 1 || channels > 256 || logits.length !== channels * plane) throw badInput(`semantic logits hold ${logits.length} values, expected ${channels}×${plane} (at most 256 channels)`);
  if (ids.length < plane) ids = new Uint8Array(plane);
  const dst = ids;
  const m = best;
  for (let s = 0; s < plane; s += BLOCK) {
    const n = Math.min(BLOCK, plane - s);
    for (let i = 0; i < n; i++) {
      m[i] = logits[s + i];
      dst[s + i] = 0;
    }
    let c = 1;
    for (; c + 1 < channels; c += 2) {
      const o = c * plane + s;
      const o2 = o + plane;
      for (let i = 0; i < n; i++) {
        const a = logits[o + i];
        const b = logits[o2 + i];
        const v = m[i];
        if (a > v) {
          if (b > a) {
            m[i] = b;
            dst[s + i] = c + 1;
          } else {
            m[i] = a;
            dst[s + i] = c;
          }
        } else if (b > v) {
          m[i] = b;
          dst[s + i] = c + 1;
        }
      }
    }
    for (; c < channels; c++) {
      const o = c * plane + s;
      for (let i = 0; i < n; i++) {
        const v = logits[o + i];
        if (v > m[i]) {
          m[i] = v;
          dst[s + i] = c;
        }
      }
    }
  }
  return dst.subarray(0, plane);
}
