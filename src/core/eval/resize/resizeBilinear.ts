import { badInput } from "../../errors";
import { bilinearTaps } from "./bilinearTaps";

/**
 * Bilinear resize of a float32 [C, inH, inW] tensor to [C, outH, outW] with half-pixel centres
 * (PyTorch `align_corners=False`, no antialias; see bilinearTaps). Horizontal taps first, then
 * vertical, as ATen's CPU kernel nests them.
 */
export function resizeBilinear(src: Float32Array, channels: number, inH: number, inW: number, outH: number, outW: number, out?: Float32Array): Float32Array {
  if (src.length !== channels * inH * inW) {
    throw badInput(`tensor holds ${src.length} values, expected ${channels}×${inH}×${inW} = ${channels * inH * inW}`);
  }
  const dst = out ?? new Float32Array(channels * outH * outW);
  if (dst.length < channels * outH * outW) throw badInput(`output buffer holds ${dst.length} values, needs ${channels * outH * outW}`);
  if (inH === outH && inW === outW) {
    dst.set(src);
    return dst;
  }
  const ty = bilinearTaps(inH, outH);
  const tx = bilinearTaps(inW, outW);
  for (let c = 0; c < channels; c++) {
    const plane = c * inH * inW;
    const outPlane = c * outH * outW;
    for (let oy = 0; oy < outH; oy++) {
      const r0 = plane + ty.i0[oy] * inW;
      const r1 = plane + ty.i1[oy] * inW;
      const wy0 = ty.w0[oy];
      const wy1 = ty.w1[oy];
      const o = outPlane + oy * outW;
      for (let ox = 0; ox < outW; ox++) {
        const x0 = tx.i0[ox];
        const x1 = tx.i1[ox];
        const wx0 = tx.w0[ox];
        const wx1 = tx.w1[ox];
        const a = Math.fround(src[r0 + x0] * wx0 + src[r0 + x1] * wx1);
        const b = Math.fround(src[r1 + x0] * wx0 + src[r1 + x1] * wx1);
        dst[o + ox] = a * wy0 + b * wy1;
      }
    }
  }
  return dst;
}
