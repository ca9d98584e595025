import { badInput } from "../../errors";
import { ClassIdArray } from "../resize/resizeArgmax";
import { simdArgmax } from "../simd/classKernels";

/**
 * Class map of float32 [C, H, W] logits: per pixel the channel with the largest value, ties to the
 * lowest channel (torch.argmax). For logits at another resolution than the labels use
 * resizeArgmax, which resizes first: predictions are compared at label resolution, as
 * mmsegmentation does (docs/CONVENTIONS.md, Metrics). `winners` (optional, at least H·W long)
 * receives each pixel's winning logit. Class ids in bytes are found by a WebAssembly SIMD kernel
 * with the same bits (simd/classKernels.ts) where the runtime has one.
 */
export function semanticArgmax(logits: Float32Array, channels: number, height: number, width: number, out?: ClassIdArray, winners?: Float32Array): ClassIdArray {
  const plane = height * width;
  if (channels < 1 || logits.length !== channels * plane) {
    throw badInput(`semantic logits hold ${logits.length} values, expected ${channels}×${height}×${width} = ${channels * plane}`);
  }
  const dst = out ?? (channels <= 256 ? new Uint8Array(plane) : new Uint16Array(plane));
  if (dst.length < plane) throw badInput(`output buffer holds ${dst.length} values, needs ${plane}`);
  // `winners`, when given, is the working array and keeps each pixel's winning logit.
  if (winners && winners.length < plane) throw badInput(`winners buffer holds ${winners.length} values, needs ${plane}`);
  if (dst instanceof Uint8Array && simdArgmax(logits, channels, plane, dst, winners ?? null)) return dst;
  return scalarArgmax(logits, channels, plane, dst, winners);
}

/** semanticArgmax in JavaScript (any class count and id array); exported for the tests that hold the SIMD kernel to it. */
export function scalarArgmax(logits: Float32Array, channels: number, plane: number, dst: ClassIdArray, winners?: Float32Array): ClassIdArray {
  const best = winners ? winners.subarray(0, plane) : logits.slice(0, plane);
  if (winners) best.set(logits.subarray(0, plane));
  dst.fill(0, 0, plane);
  // Two channels per pass over `best` (a fifth less time than one at 19 classes). Per pixel this
  // is the one-channel scan: c replaces the best when strictly greater, then c + 1 when strictly
  // greater than that (so ties keep the lower channel, and NaN never wins).
  let c = 1;
  for (; c + 1 < channels; c += 2) {
    const o = c * plane;
    const o2 = o + plane;
    for (let i = 0; i < plane; i++) {
      const a = logits[o + i];
      const b = logits[o2 + i];
      const m = best[i];
      if (a > m) {
        if (b > a) {
          best[i] = b;
          dst[i] = c + 1;
        } else {
          best[i] = a;
          dst[i] = c;
        }
      } else if (b > m) {
        best[i] = b;
        dst[i] = c + 1;
      }
    }
  }
  for (; c < channels; c++) {
    const o = c * plane;
    for (let i = 0; i < plane; i++) {
      const v = logits[o + i];
      if (v > best[i]) {
        best[i] = v;
        dst[i] = c;
      }
    }
  }
  return dst;
}
