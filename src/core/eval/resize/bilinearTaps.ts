import { badInput } from "../../errors";

/** Source taps of a 1-D linear resize: out[d] = w0[d]·in[i0[d]] + w1[d]·in[i1[d]]. */
export interface BilinearTaps {
  i0: Int32Array;
  i1: Int32Array;
  w0: Float32Array;
  w1: Float32Array;
}

/**
 * Taps of PyTorch `F.interpolate(mode="bilinear", align_corners=False, antialias=False)` along
 * one axis, as ATen computes them (UpSample.h `area_pixel_compute_source_index`,
 * `compute_indices_weights_linear`): scale = in/out in float32, src = scale·(d + ½) − ½ rounded to
 * float32 and clamped at 0 (so the first outputs of an upscale copy the edge), i0 = ⌊src⌋,
 * i1 = i0 + 1 except at the last input, λ = src − i0. No antialiasing: a downscale samples two
 * neighbours, it does not average the footprint (mmsegmentation's `resize` does the same).
 */
export function bilinearTaps(inSize: number, outSize: number): BilinearTaps {
  if (!Number.isInteger(inSize) || inSize < 1 || !Number.isInteger(outSize) || outSize < 1) {
    throw badInput(`resize sizes must be positive integers, got ${inSize} → ${outSize}`);
  }
  const scale = Math.fround(inSize / outSize);
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const w0 = new Float32Array(outSize);
  const w1 = new Float32Array(outSize);
  for (let d = 0; d < outSize; d++) {
    let src = Math.fround(scale * (d + 0.5) - 0.5);
    if (src < 0) src = 0;
    const lo = Math.min(Math.floor(src), inSize - 1);
    const lambda = Math.min(Math.max(Math.fround(src - lo), 0), 1);
    i0[d] = lo;
    i1[d] = lo < inSize - 1 ? lo + 1 : lo;
    w1[d] = lambda;
    w0[d] = Math.fround(1 - lambda);
  }
  return { i0, i1, w0, w1 };
}
