/**
 * How an input sample x becomes (x − mean) / std in float32. Reference pipelines round differently,
 * and the last bit matters: a panoptic model's center heatmap can hold exact ties between maxima,
 * which one bit of input moves apart.
 * - DIVIDE: float32 throughout, `(x − mean) / std` with mean and std rounded to float32, the
 *   subtraction and the division each rounded to float32 — mmseg 1.x's data preprocessor,
 *   torchvision's `Normalize`, detectron2 (a float32 tensor op).
 * - MMCV: mmcv 1.x's `imnormalize` (mmseg 0.x: DAFormer, HRDA, MIC), which goes through OpenCV:
 *   `cv2.subtract(img, mean)` rounds the float64 mean to float32 and subtracts in float32, then
 *   `cv2.multiply(img, 1 / std)` multiplies by the float64 reciprocal and rounds once to float32.
 */
export type NormalizationName = "DIVIDE" | "MMCV";

/** One channel's constants, as each convention holds them. */
export interface ChannelNormalization {
  /** MMCV multiplies instead of dividing. */
  readonly mmcv: boolean;
  /** The mean rounded to float32 (both conventions subtract it in float32). */
  readonly mean32: number;
  /** DIVIDE: the std rounded to float32. */
  readonly std32: number;
  /** MMCV: 1 / std in float64. */
  readonly stdInv: number;
}

export function channelNormalization(mean: number, std: number, normalization: NormalizationName = "DIVIDE"): ChannelNormalization {
  return { mmcv: normalization === "MMCV", mean32: Math.fround(mean), std32: Math.fround(std), stdInv: 1 / std };
}

/**
 * One sample normalised, as a float32 value. x is rounded to float32 first, as the references hold
 * the image in float32 (an 8-bit sample is exact). In double, `a − b` and `a / b` of two float32
 * values round to the correctly rounded float32 result once rounded again, so Math.fround here is
 * IEEE float32 arithmetic; MMCV's product is formed in double and rounded once, as OpenCV does.
 */
export function normalizeSample(x: number, n: ChannelNormalization): number {
  const d = Math.fround(Math.fround(x) - n.mean32);
  return Math.fround(n.mmcv ? d * n.stdInv : d / n.std32);
}

/** The normalised float32 value of every 8-bit sample 0…255 of one channel. */
export function normalizationTable(mean: number, std: number, normalization: NormalizationName = "DIVIDE"): Float32Array {
  const n = channelNormalization(mean, std, normalization);
  const table = new Float32Array(256);
  for (let v = 0; v < 256; v++) table[v] = normalizeSample(v, n);
  return table;
}
