import { normalizationTable, preprocessImage, type PixelImage, type PreprocessOptions } from "../core/eval";

/**
 * preprocessImage with a shortcut for images already at the model's input size (FIXED contracts
 * on datasets stored at that size, SLIDE after a no-op keep-ratio resize): then the bilinear taps
 * are the identity (weights 1 and 0), and the normalised samples are core's own float32 values
 * (normalizationTable, the same rounding as preprocessImage for the contract's `normalization`)
 * looked up in a 256-entry table per channel, since samples are bytes. Any other size goes to
 * core's preprocessImage.
 *
 * Should move into src/core/eval/resize/preprocessImage (runtime cannot edit core).
 */
export function fastPreprocess(image: PixelImage, options: PreprocessOptions, out?: Float32Array, offset = 0): Float32Array {
  const { width, height, channelOrder, mean, std } = options;
  const normalization = options.normalization ?? "DIVIDE";
  const { channels, data } = image;
  if (image.width !== width || image.height !== height || (channels !== 3 && channels !== 4) || data.length !== width * height * channels || mean.length !== 3 || std.length !== 3 || !std.every((s) => s > 0) || (normalization !== "DIVIDE" && normalization !== "MMCV")) {
    return preprocessImage(image, options, out, offset);
  }
  const plane = width * height;
  const dst = out ?? new Float32Array(3 * plane);
  if (dst.length < offset + 3 * plane) return preprocessImage(image, options, out, offset); // lets core report it
  for (let c = 0; c < 3; c++) {
    const srcChannel = channelOrder === "RGB" ? c : 2 - c;
    const table = normalizationTable(mean[c], std[c], normalization);
    const o = offset + c * plane;
    for (let i = 0, s = srcChannel; i < plane; i++, s += channels) dst[o + i] = table[data[s]];
  }
  return dst;
}
