import { badInput } from "../../errors";

/**
 * Output size of mmsegmentation's `Resize(scale=(W, H), keep_ratio=True)` (mmcv `rescale_size`):
 * the largest scale factor that keeps the long side ≤ max(W, H) and the short side ≤ min(W, H),
 *   f = min(max(W,H) / max(w,h), min(W,H) / min(w,h)),
 * applied with round-half-up: (⌊w·f + ½⌋, ⌊h·f + ½⌋). E.g. Cityscapes 2048×1024 at scale
 * (2048, 1024) stays 2048×1024; a 1914×1052 GTA5 frame becomes 1863×1024.
 */
export function keepRatioSize(width: number, height: number, scaleWidth: number, scaleHeight: number): { width: number; height: number } {
  for (const [name, v] of [["width", width], ["height", height], ["scale width", scaleWidth], ["scale height", scaleHeight]] as const) {
    if (!(v > 0) || !Number.isFinite(v)) throw badInput(`${name} must be positive, got ${v}`);
  }
  const longEdge = Math.max(scaleWidth, scaleHeight);
  const shortEdge = Math.min(scaleWidth, scaleHeight);
  const f = Math.min(longEdge / Math.max(width, height), shortEdge / Math.min(width, height));
  return { width: Math.floor(width * f + 0.5), height: Math.floor(height * f + 0.5) };
}
