import { resizeBilinear } from "./resizeBilinear";

/**
 * Bilinear resize of Panoptic-DeepLab offsets [2, inH, inW] to outH × outW, rescaling the values:
 * offsets are displacements in pixels of the map they belong to, so a 2× larger map needs 2×
 * larger offsets. (detectron2 skips this because it post-processes at input resolution; here the
 * heads are brought to label resolution, which may differ.)
 */
export function resizeOffsets(offsets: Float32Array, inH: number, inW: number, outH: number, outW: number, order: "YX" | "XY"): Float32Array {
  const out = resizeBilinear(offsets, 2, inH, inW, outH, outW);
  if (inH === outH && inW === outW) return out;
  const plane = outH * outW;
  const [yPlane, xPlane] = order === "YX" ? [0, plane] : [plane, 0];
  const fy = outH / inH;
  const fx = outW / inW;
  for (let i = 0; i < plane; i++) {
    out[yPlane + i] *= fy;
    out[xPlane + i] *= fx;
  }
  return out;
}
