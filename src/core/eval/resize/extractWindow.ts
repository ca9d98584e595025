import { badInput } from "../../errors";
import { SlideWindow } from "./planSlideWindows";

/**
 * Copies window `win` of a float32 [C, H, W] input tensor into a [C, padH, padW] tensor, zero
 * beyond the window (bottom/right). Zero is the padding of mmsegmentation's data preprocessor,
 * which pads after normalisation; a window smaller than the model's fixed input is padded so.
 */
export function extractWindow(src: Float32Array, channels: number, height: number, width: number, win: SlideWindow, padH: number, padW: number, out?: Float32Array): Float32Array {
  const h = win.y2 - win.y1;
  const w = win.x2 - win.x1;
  if (src.length !== channels * height * width) throw badInput(`tensor holds ${src.length} values, expected ${channels}×${height}×${width}`);
  if (win.y1 < 0 || win.x1 < 0 || win.y2 > height || win.x2 > width || h < 1 || w < 1) throw badInput(`window ${JSON.stringify(win)} is outside the ${width}×${height} image`);
  if (h > padH || w > padW) throw badInput(`window ${w}×${h} is larger than the model input ${padW}×${padH}`);
  const dst = out ?? new Float32Array(channels * padH * padW);
  if (out) dst.fill(0, 0, channels * padH * padW);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < h; y++) {
      const s = c * height * width + (win.y1 + y) * width + win.x1;
      dst.set(src.subarray(s, s + w), c * padH * padW + y * padW);
    }
  }
  return dst;
}
