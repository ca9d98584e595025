/**
 * Folds an eval-mode BatchNorm into the Conv before it (what exporters do with constant folding):
 *
 *     s_o = γ_o / sqrt(var_o + eps)
 *     W'[o, …] = W[o, …] · s_o
 *     b'_o = (b_o − mean_o) · s_o + β_o
 *
 * with b = 0 for a conv without bias, γ = 1 and β = 0 for a batch norm without affine parameters.
 * Float64 throughout; the caller rounds once to the graph's dtype.
 *
 * @param weight the conv weight, [C, …] in C order
 */
export function foldBatchNorm(
  weight: Float64Array,
  bias: Float64Array | null,
  bn: { gamma: Float64Array | null; beta: Float64Array | null; mean: Float64Array; variance: Float64Array; eps: number },
): { weight: Float64Array; bias: Float64Array } {
  const c = bn.mean.length;
  const per = weight.length / c;
  const outWeight = new Float64Array(weight.length);
  const outBias = new Float64Array(c);
  for (let o = 0; o < c; o++) {
    const s = (bn.gamma ? bn.gamma[o] : 1) / Math.sqrt(bn.variance[o] + bn.eps);
    for (let k = o * per; k < (o + 1) * per; k++) outWeight[k] = weight[k] * s;
    outBias[o] = ((bias ? bias[o] : 0) - bn.mean[o]) * s + (bn.beta ? bn.beta[o] : 0);
  }
  return { weight: outWeight, bias: outBias };
}
