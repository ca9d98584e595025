import { badInput } from "../../errors";
import { defineMethod, FLOAT_DTYPES, TWO_PASSES, type MethodRecipe, type TensorMerge } from "./mergeMethod";

/** Least norm product a cosine is divided by (mergekit's clamp), so zero task vectors give cos 0. */
export const MODEL_STOCK_NORM_FLOOR = 1e-6;
/**
 * 1 + (k − 1)·c at or below this counts as 0: it is never negative in exact arithmetic (the k
 * unit task vectors' sum has a non-negative squared norm, k + k(k − 1)·c), and reaches 0 only
 * when they cancel out, which float64 sums may leave as a few ulps.
 */
export const MODEL_STOCK_MIN_DENOMINATOR = 1e-12;

/**
 * c = the mean over pairs of cos(τ_i, τ_j), each clamped to [−1, 1] with its norm product
 * clamped at ≥ 1e-6, from the k task vectors' pairwise dot products (`dots[i][j]`, i < j) and
 * squared norms.
 */
export function meanPairwiseCosine(dots: readonly (readonly number[])[], normsSquared: readonly number[]): number {
  const k = normsSquared.length;
  let sum = 0;
  for (let i = 0; i < k; i++) {
    for (let j = i + 1; j < k; j++) {
      const product = Math.max(Math.sqrt(normsSquared[i]) * Math.sqrt(normsSquared[j]), MODEL_STOCK_NORM_FLOOR);
      sum += Math.min(1, Math.max(-1, dots[i][j] / product));
    }
  }
  return sum / ((k * (k - 1)) / 2);
}

/**
 * Model Stock (Jang et al., ECCV 2024, arXiv 2403.19522; mergekit's model_stock) per tensor, for
 * the k fine-tuned models sharing it with the base (the anchor is one of them):
 *
 *   c = mean over pairs of cos(θ_i − θ_0, θ_j − θ_0)     statistic pass, float64
 *   t = k·c / (1 + (k − 1)·c)
 *   θ = t · mean_k(θ_k) + (1 − t) · θ_0                   apply pass
 *
 * 1 + (k − 1)·c ≤ 0 (task vectors summing to zero) leaves t undefined and is refused, naming
 * the tensor.
 */
async function mergeModelStock(t: TensorMerge): Promise<void> {
  const k = t.inputs.length;
  const dots = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const norms = new Array<number>(k).fill(0);
  for (const { start, count } of t.chunks) {
    const base = await t.readBase(start, count);
    const deltas: Float64Array[] = [];
    for (let m = 0; m < k; m++) {
      const x = await t.read(m, start, count);
      const d = new Float64Array(count);
      for (let i = 0; i < count; i++) d[i] = x[i] - base[i];
      deltas.push(d);
    }
    for (let a = 0; a < k; a++) {
      const da = deltas[a];
      for (let i = 0; i < count; i++) norms[a] += da[i] * da[i];
      for (let b = a + 1; b < k; b++) {
        const db = deltas[b];
        let s = 0;
        for (let i = 0; i < count; i++) s += da[i] * db[i];
        dots[a][b] += s;
      }
    }
  }
  const c = meanPairwiseCosine(dots, norms);
  const denominator = 1 + (k - 1) * c;
  if (!(denominator > MODEL_STOCK_MIN_DENOMINATOR)) {
    throw badInput(
      `MODEL_STOCK cannot merge tensor ${JSON.stringify(t.name)}: the task vectors of its ${k} fine-tuned models cancel out (mean pairwise cosine ${c.toPrecision(6)}, so 1 + (k − 1)·c ≤ 0 up to rounding and the ratio t is undefined); leave one of them out or use another method`,
      undefined,
      { tensor: t.name, cosine: c },
    );
  }
  const ratio = (k * c) / denominator;
  for (const { start, count } of t.chunks) {
    const base = await t.readBase(start, count);
    const sum = new Float64Array(count);
    for (let m = 0; m < k; m++) {
      const x = await t.read(m, start, count);
      for (let i = 0; i < count; i++) sum[i] += x[i];
    }
    const out = t.alloc(count);
    for (let i = 0; i < count; i++) out[i] = ratio * (sum[i] / k) + (1 - ratio) * base[i];
    t.emit(start, out);
  }
}

function validate(recipe: MethodRecipe): void {
  if (recipe.weights) throw badInput("MODEL_STOCK takes no relative weights: every fine-tuned model counts equally in its mean", "input.weights");
  if (recipe.schedule.kind !== "UNIFORM") {
    throw badInput(`MODEL_STOCK weighs every fine-tuned model equally; its schedule must be UNIFORM (its default), not ${recipe.schedule.kind}`, "input.schedule.kind");
  }
}

export const modelStock = defineMethod({
  name: "MODEL_STOCK",
  title: "Model Stock",
  description:
    "Averages the fine-tuned models and moves the average toward the base by a ratio t = k·c / (1 + (k − 1)·c) set per tensor by the mean cosine c between their task vectors.",
  paper: { arxiv: "2403.19522", title: "Model Stock: All we need is just a few fine-tuned models" },
  needsBase: true,
  parameters: [],
  dtypes: FLOAT_DTYPES,
  defaultSchedule: { kind: "UNIFORM" },
  reads: TWO_PASSES,
  validate,
  mergeTensor: mergeModelStock,
});
