import { channelNormalization, normalizationTable, normalizeSample, preprocessImage, type PixelImage, type PreprocessOptions } from "../core/eval";

/**
 * preprocessImage with shortcuts for two sizes, bit for bit its result; any other size goes to
 * core's preprocessImage.
 *
 * - The image is at the model's input size (FIXED contracts on datasets stored at that size, SLIDE
 *   after a no-op keep-ratio resize): the bilinear taps are the identity (weights 1 and 0), and
 *   the normalised samples are core's own float32 values (normalizationTable, the same rounding as
 *   preprocessImage for the contract's `normalization`) looked up in a 256-entry table per channel.
 * - The image is exactly twice the input size (labels at 2× the model's resolution): half-pixel
 *   centres put every output at source 2d + ½, so the taps are 2d and 2d + 1 with weights ½ and the
 *   interpolated value is the mean of a 2 × 2 block, (p₀₀ + p₀₁ + p₁₀ + p₁₁) / 4, exact in float32;
 *   its normalised value is looked up by the block's sum (0…1020).
 *
 * Should move into src/core/eval/resize/preprocessImage (runtime cannot edit core).
 */
export function fastPreprocess(image: PixelImage, options: PreprocessOptions, out?: Float32Array, offset = 0): Float32Array {
  const { width, height, channelOrder, mean, std } = options;
  const normalization = options.normalization ?? "DIVIDE";
  const { channels, data } = image;
  const same = image.width === width && image.height === height && (channels === 3 || channels === 4);
  const half = image.width === 2 * width && image.height === 2 * height && (channels === 1 || channels === 3 || channels === 4);
  if ((!same && !half) || data.length !== image.width * image.height * channels || mean.length !== 3 || std.length !== 3 || !std.every((s) => s > 0) || (normalization !== "DIVIDE" && normalization !== "MMCV")) {
    return preprocessImage(image, options, out, offset);
  }
  const plane = width * height;
  const dst = out ?? new Float32Array(3 * plane);
  if (dst.length < offset + 3 * plane) return preprocessImage(image, options, out, offset); // lets core report it
  const srcChannel = (c: number) => (channels === 1 ? 0 : channelOrder === "RGB" ? c : 2 - c);
  if (same) {
    for (let c = 0; c < 3; c++) {
      const o = offset + c * plane;
      const table = normalizationTable(mean[c], std[c], normalization);
      for (let i = 0, s = srcChannel(c); i < plane; i++, s += channels) dst[o + i] = table[data[s]];
    }
    return dst;
  }
  const blockTable = (c: number) => {
    const n = channelNormalization(mean[c], std[c], normalization);
    const table = new Float32Array(1021);
    for (let sum = 0; sum <= 1020; sum++) table[sum] = normalizeSample(sum / 4, n);
    return table;
  };
  // The three output channels in one pass over the image: each 2 × 2 block's bytes are read once,
  // close together, instead of once per channel a whole image apart.
  const t0 = blockTable(0);
  const t1 = blockTable(1);
  const t2 = blockTable(2);
  const c0 = srcChannel(0);
  const c1 = srcChannel(1);
  const c2 = srcChannel(2);
  const step = 2 * channels;
  const rowStride = image.width * channels;
  for (let y = 0; y < height; y++) {
    let s0 = 2 * y * rowStride;
    let s1 = s0 + rowStride;
    const o0 = offset + y * width;
    const o1 = o0 + plane;
    const o2 = o1 + plane;
    for (let x = 0; x < width; x++, s0 += step, s1 += step) {
      dst[o0 + x] = t0[data[s0 + c0] + data[s0 + c0 + channels] + data[s1 + c0] + data[s1 + c0 + channels]];
      dst[o1 + x] = t1[data[s0 + c1] + data[s0 + c1 + channels] + data[s1 + c1] + data[s1 + c1 + channels]];
      dst[o2 + x] = t2[data[s0 + c2] + data[s0 + c2 + channels] + data[s1 + c2] + data[s1 + c2 + channels]];
    }
  }
  return dst;
}
