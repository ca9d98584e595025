import { badInput } from "../../errors";
import { ClassIdArray } from "../resize/resizeArgmax";

/**
 * Class map of float32 [C, H, W] logits: per pixel the channel with the largest value, ties to the
 * lowest channel (torch.argmax). For logits at another resolution than the labels use
 * resizeArgmax, which resizes first: predictions are compared at label resolution, as
 * mmsegmentation does (docs/CONVENTIONS.md, Metrics).
 */
export function semanticArgmax(logits: Float32Array, channels: number, height: number, width: number, out?: ClassIdArray): ClassIdArray {
  const plane = height * width;
  if (channels < 1 || logits.length !== channels * plane) {
    throw badInput(`semantic logits hold ${logits.length} values, expected ${channels}×${height}×${width} = ${channels * plane}`);
  }
  const dst = out ?? (channels <= 256 ? new Uint8Array(plane) : new Uint16Array(plane));
  if (dst.length < plane) throw badInput(`output buffer holds ${dst.length} values, needs ${plane}`);
  const best = logits.slice(0, plane);
  dst.fill(0, 0, plane);
  for (let c = 1; c < channels; c++) {
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
