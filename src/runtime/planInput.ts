import { keepRatioSize, planSlideWindows, type SlideWindow } from "../core/eval";
import { badInput } from "../core/errors";
import type { RuntimeContract } from "./runtimeContract";

/** Where one image goes through the model. */
export interface InputPlan {
  /** Size the image is resized to (mmseg's `img_shape`). */
  width: number;
  height: number;
  /** Size of each tensor fed to the model (≥ the window it holds; the rest is zero padding). */
  tensorWidth: number;
  tensorHeight: number;
  /**
   * null: the resized image is the tensor, and the logits cover it whole. Otherwise the windows
   * whose logits are averaged (SLIDE), or one window when a KEEP_RATIO image is padded to a
   * model's fixed input size; both go through SlideAccumulator.
   */
  windows: SlideWindow[] | null;
}

/**
 * The geometry of mmsegmentation's test pipeline for one image of `width` × `height`:
 * - FIXED: resize to the contract's width × height;
 * - KEEP_RATIO: `Resize(scale=(width, height), keep_ratio=True)` (keepRatioSize); a model with a
 *   fixed input size gets the image zero-padded bottom/right to it (mmseg's data preprocessor pads
 *   after normalisation with 0), and only the image's part of the logits is used;
 * - SLIDE: the same keep-ratio resize, then `slide_inference` windows of `cropSize` every
 *   `stride` (planSlideWindows), each padded to the crop size.
 * `fixed` is the model's fixed input height/width, when its metadata states them.
 */
export function planInput(width: number, height: number, contract: RuntimeContract, fixed: { height: number | null; width: number | null }, inputName: string): InputPlan {
  const mode = contract.resize.mode;
  if (mode === "FIXED") {
    checkFits(contract.width, contract.height, fixed, inputName, "the contract's width × height", true);
    return { width: contract.width, height: contract.height, tensorWidth: contract.width, tensorHeight: contract.height, windows: null };
  }
  const resized = keepRatioSize(width, height, contract.width, contract.height);
  if (mode === "KEEP_RATIO") {
    if (fixed.height === null && fixed.width === null) return { ...resized, tensorWidth: resized.width, tensorHeight: resized.height, windows: null };
    checkFits(resized.width, resized.height, fixed, inputName, `the ${width}×${height} image resized with keep-ratio`, false);
    const tensorWidth = fixed.width ?? resized.width;
    const tensorHeight = fixed.height ?? resized.height;
    if (tensorWidth === resized.width && tensorHeight === resized.height) return { ...resized, tensorWidth, tensorHeight, windows: null };
    return { ...resized, tensorWidth, tensorHeight, windows: [{ y1: 0, y2: resized.height, x1: 0, x2: resized.width }] };
  }
  if (mode === "SLIDE") {
    const [cropH, cropW] = contract.resize.cropSize ?? [contract.height, contract.width];
    const [strideH, strideW] = contract.resize.stride ?? [Math.max(1, Math.floor((cropH * 2) / 3)), Math.max(1, Math.floor((cropW * 2) / 3))];
    checkFits(cropW, cropH, fixed, inputName, "the SLIDE cropSize", true);
    const windows = planSlideWindows(resized.height, resized.width, { height: cropH, width: cropW }, { height: strideH, width: strideW });
    return { ...resized, tensorWidth: cropW, tensorHeight: cropH, windows };
  }
  throw badInput(`unknown resize mode ${String(mode)}`, "inference.resize.mode");
}

function checkFits(w: number, h: number, fixed: { height: number | null; width: number | null }, inputName: string, what: string, exact: boolean): void {
  const badH = fixed.height !== null && (exact ? fixed.height !== h : fixed.height < h);
  const badW = fixed.width !== null && (exact ? fixed.width !== w : fixed.width < w);
  if (badH || badW) {
    throw badInput(
      `model input "${inputName}" is fixed to ${fixed.width ?? "W"}×${fixed.height ?? "H"} (width×height), which ${exact ? "differs from" : "is smaller than"} ${what}, ${w}×${h}`,
      "inference",
      { input: inputName },
    );
  }
}
