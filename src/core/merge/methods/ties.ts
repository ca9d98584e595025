import type { FloatArray } from "../floatArrays";
import { kthLargest } from "../kthLargest";
import { defineMethod, FLOAT_DTYPES, type TensorMerge } from "./mergeMethod";
import { LAMBDA } from "./taskVector";

/** Number of entries TIES keeps: round(k · n), at least one (arXiv 2306.01708 §3, "Trim"). */
export function tiesKeepCount(density: number, elements: number): number {
  return Math.min(elements, Math.max(1, Math.round(density * elements)));
}

/** Which entries of a task vector survive trimming: |τ| above the threshold, ties by index. */
interface TrimRule {
  threshold: number;
  /** How many entries with |τ| == threshold survive (the first ones, in index order). */
  keepAtThreshold: number;
}

/** τ = x − base into `into`, in its precision. */
function taskVector(x: FloatArray, base: FloatArray, into: FloatArray): void {
  for (let i = 0; i < into.length; i++) into[i] = x[i] - base[i];
}

/**
 * Statistic pass for one input: its |τ| over the whole tensor, read chunk by chunk into one
 * magnitude array (the exact k-th largest needs them all; one array whatever the model count).
 */
async function trimRule(t: TensorMerge, input: number, magnitudes: FloatArray, keep: number): Promise<TrimRule> {
  for (const { start, count } of t.chunks) {
    const base = await t.readBase(start, count);
    const x = await t.read(input, start, count);
    for (let i = 0; i < count; i++) magnitudes[start + i] = Math.abs(x[i] - base[i]);
  }
  const threshold = kthLargest(magnitudes, keep);
  let above = 0;
  for (let i = 0; i < magnitudes.length; i++) if (magnitudes[i] > threshold) above++;
  return { threshold, keepAtThreshold: keep - above };
}

/** Zeroes the trimmed entries of a chunk of τ in place; `kept` counts threshold entries kept so far. */
function trim(tau: FloatArray, rule: TrimRule, kept: { atThreshold: number }): void {
  for (let i = 0; i < tau.length; i++) {
    const a = Math.abs(tau[i]);
    if (a > rule.threshold) continue;
    if (a === rule.threshold && kept.atThreshold < rule.keepAtThreshold) {
      kept.atThreshold++;
      continue;
    }
    tau[i] = 0;
  }
}

/**
 * TIES-Merging of one tensor (arXiv 2306.01708, Algorithm 1) with per-layer weights:
 *
 *   τ̂_k   = trim(θ_k − θ_base) to its top round(k·n) magnitudes (ties broken by element index)
 *   γ     = sgn(Σ_k w_k τ̂_k)                       elected sign per element
 *   A     = { k : sgn(τ̂_k) = γ }                    (trimmed zeros never agree)
 *   τ_m   = Σ_{k∈A} w_k τ̂_k / Σ_{k∈A} w_k           weighted disjoint mean (0 when A is empty)
 *   θ     = θ_base + λ τ_m
 *
 * With the UNIFORM schedule all w_k = 1/N, the election is the paper's sign of the summed
 * trimmed vectors and the mean is its plain disjoint mean. Other schedules weight both the
 * election and the mean, so a layer that leans to the anchor leans to it here too.
 *
 * Two passes: the trim thresholds need each task vector's magnitudes over the whole tensor
 * (statistic pass, one input at a time); election and mean are per element, so the apply pass
 * goes chunk by chunk holding one trimmed chunk per input.
 */
async function mergeTies(t: TensorMerge): Promise<void> {
  const n = t.elements;
  if (n === 0) return;
  const r = t.f64 ? (v: number) => v : Math.fround;
  const keep = tiesKeepCount(t.params.density, n);
  const magnitudes = t.alloc(n);
  const rules: TrimRule[] = [];
  for (let k = 0; k < t.inputs.length; k++) rules.push(await trimRule(t, k, magnitudes, keep));

  const kept = t.inputs.map(() => ({ atThreshold: 0 }));
  const lambda = r(t.params.lambda);
  for (const { start, count } of t.chunks) {
    const base = await t.readBase(start, count);
    const elected = t.alloc(count);
    const trimmed: FloatArray[] = [];
    for (let k = 0; k < t.inputs.length; k++) {
      const tau = t.alloc(count);
      taskVector(await t.read(k, start, count), base, tau);
      trim(tau, rules[k], kept[k]);
      trimmed.push(tau);
      const w = r(t.inputs[k].weight);
      for (let i = 0; i < count; i++) elected[i] += r(w * tau[i]);
    }
    const numerator = t.alloc(count);
    const denominator = t.alloc(count);
    for (let k = 0; k < t.inputs.length; k++) {
      const tau = trimmed[k];
      const w = r(t.inputs[k].weight);
      for (let i = 0; i < count; i++) {
        const v = tau[i];
        const g = elected[i];
        if ((v > 0 && g > 0) || (v < 0 && g < 0)) {
          numerator[i] += r(w * v);
          denominator[i] += w;
        }
      }
    }
    const out = numerator; // reused: each element is read before it is written
    for (let i = 0; i < count; i++) {
      const mean = denominator[i] > 0 ? r(numerator[i] / denominator[i]) : 0;
      out[i] = base[i] + r(lambda * mean);
    }
    t.emit(start, out);
  }
}

export const ties = defineMethod({
  name: "TIES",
  title: "TIES-Merging",
  description:
    "Trims each task vector to its largest-magnitude entries, elects a sign per entry, and averages only the entries that agree with it (weighted disjoint mean).",
  paper: { arxiv: "2306.01708", title: "TIES-Merging: Resolving Interference When Merging Models" },
  needsBase: true,
  parameters: [
    LAMBDA,
    {
      name: "density",
      type: "FLOAT",
      default: 0.2,
      min: 0,
      max: 1,
      minInclusive: false,
      maxInclusive: true,
      description: "Fraction k of each task vector kept, by magnitude, per tensor (the paper's top-20% is 0.2).",
    },
  ],
  dtypes: FLOAT_DTYPES,
  // The statistic pass reads the base beside each input, the apply pass once more.
  reads: (inputCount) => ({ eachInput: 2, base: inputCount + 1 }),
  mergeTensor: mergeTies,
});
