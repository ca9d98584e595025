import { badInput } from "../../errors";

/** A window [y1, y2) × [x1, x2) of the (resized) image; it may be smaller than the crop. */
export interface SlideWindow {
  y1: number;
  y2: number;
  x1: number;
  x2: number;
}

/**
 * Windows of mmsegmentation's `slide_inference`, in its order (rows, then columns):
 *   grids = max(size − crop + stride − 1, 0) // stride + 1 per axis,
 *   start = i·stride, end = min(start + crop, size), start = max(end − crop, 0),
 * so the last window is pushed back inside the border and an image smaller than the crop gets one
 * window of its own size (the runtime pads it to the model's fixed input; see extractWindow).
 */
export function planSlideWindows(height: number, width: number, crop: { height: number; width: number }, stride: { height: number; width: number }): SlideWindow[] {
  for (const [name, v] of [["image height", height], ["image width", width], ["cropSize height", crop.height], ["cropSize width", crop.width], ["stride height", stride.height], ["stride width", stride.width]] as const) {
    if (!Number.isInteger(v) || v < 1) throw badInput(`${name} must be a positive integer, got ${v}`, name.startsWith("crop") ? "inference.resize.cropSize" : name.startsWith("stride") ? "inference.resize.stride" : undefined);
  }
  const hGrids = Math.floor(Math.max(height - crop.height + stride.height - 1, 0) / stride.height) + 1;
  const wGrids = Math.floor(Math.max(width - crop.width + stride.width - 1, 0) / stride.width) + 1;
  const windows: SlideWindow[] = [];
  for (let h = 0; h < hGrids; h++) {
    for (let w = 0; w < wGrids; w++) {
      const y2 = Math.min(h * stride.height + crop.height, height);
      const x2 = Math.min(w * stride.width + crop.width, width);
      windows.push({ y1: Math.max(y2 - crop.height, 0), y2, x1: Math.max(x2 - crop.width, 0), x2 });
    }
  }
  return windows;
}
