/** An instance center: heatmap position and score. */
export interface InstanceCenter {
  y: number;
  x: number;
  score: number;
}

/**
 * Instance centers of a Panoptic-DeepLab center heatmap [H, W], as the reference
 * `find_instance_center` (detectron2 projects/Panoptic-DeepLab post_processing.py):
 * 1. `F.threshold(heatmap, threshold, −1)`: a score ≤ the threshold — both float32, as ATen casts
 *    the threshold to the tensor's dtype — becomes −1; anything else stays, NaN included (it is
 *    not ≤ anything);
 * 2. a pixel survives NMS when it equals the max-pool (kernel k, stride 1, padding (k−1)/2, the
 *    padding never the maximum) of the thresholded map — plateaus keep every tied pixel. ATen's
 *    max-pool propagates NaN, and NaN equals nothing: a NaN score is no center and suppresses
 *    every pixel within the kernel of it;
 * 3. survivors with score > 0 are centers, in row-major order (`torch.nonzero`);
 * 4. top-k, reproduced exactly: with s_k the k-th largest value of the map (over all pixels), the
 *    centers kept are those with score > max(s_k, 0). When k or more centers exist this keeps only
 *    those strictly above the k-th (k − 1 without ties); otherwise all of them. Matching the
 *    reference keeps PQ comparable with published numbers.
 */
export function findInstanceCenters(heatmap: Float32Array, height: number, width: number, threshold: number, nmsKernel: number, topK: number): InstanceCenter[] {
  const n = height * width;
  // ATen compares in the tensor's dtype: a float32 score of 0.1 does not exceed a 0.1 threshold.
  const th = Math.fround(threshold);
  const t = new Float32Array(n);
  for (let i = 0; i < n; i++) t[i] = heatmap[i] <= th ? -1 : heatmap[i];

  // Separable max-pool (a window holding NaN pools to NaN either way); out-of-image cells are
  // −inf padding, i.e. skipped. `v > m || v !== v`: ATen's update rule, NaN taking over.
  const p = (nmsKernel - 1) >> 1;
  const rowMax = new Float32Array(n);
  for (let y = 0; y < height; y++) {
    const r = y * width;
    for (let x = 0; x < width; x++) {
      let m = -Infinity;
      const lo = Math.max(0, x - p);
      const hi = Math.min(width - 1, x + p);
      for (let k = lo; k <= hi; k++) {
        const v = t[r + k];
        if (v > m || v !== v) m = v;
      }
      rowMax[r + x] = m;
    }
  }
  const candidates: InstanceCenter[] = [];
  for (let y = 0; y < height; y++) {
    const lo = Math.max(0, y - p);
    const hi = Math.min(height - 1, y + p);
    for (let x = 0; x < width; x++) {
      let m = -Infinity;
      for (let k = lo; k <= hi; k++) {
        const v = rowMax[k * width + x];
        if (v > m || v !== v) m = v;
      }
      const v = t[y * width + x];
      if (v === m && v > 0) candidates.push({ y, x, score: v });
    }
  }

  // Every non-candidate value is ≤ 0 after suppression, so s_k clamped at 0 is the k-th candidate
  // score when there are ≥ k candidates and 0 otherwise.
  const k = Math.min(topK, n);
  if (candidates.length < k) return candidates;
  const kth = candidates.map((c) => c.score).sort((a, b) => b - a)[k - 1];
  return candidates.filter((c) => c.score > Math.max(kth, 0));
}
