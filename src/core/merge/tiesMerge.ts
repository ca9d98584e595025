import { FloatArray } from "./floatArrays";
import { kthLargest } from "./kthLargest";

export interface TiesInput {
  /** w_k(l) of this model at the tensor's layer. */
  weight: number;
  /** Reads this model's values of the whole tensor (called twice: trim + elect, then mean). */
  read(): Promise<FloatArray>;
}

/** Which entries of a task vector survive trimming: |τ| above the threshold, ties by index. */
interface TrimRule {
  threshold: number;
  /** How many entries with |τ| == threshold survive (the first ones, in index order). */
  keepAtThreshold: number;
}

/** Number of entries TIES keeps: round(k · n), at least one (arXiv 2306.01708 §3, "Trim"). */
export function tiesKeepCount(density: number, elements: number): number {
  return Math.min(elements, Math.max(1, Math.round(density * elements)));
}

function taskVector(x: FloatArray, base: FloatArray, into: FloatArray): void {
  for (let i = 0; i < into.length; i++) into[i] = x[i] - base[i];
}

function trimRule(tau: FloatArray, scratch: FloatArray, keep: number): TrimRule {
  for (let i = 0; i < tau.length; i++) scratch[i] = Math.abs(tau[i]);
  const threshold = kthLargest(scratch, keep);
  let above = 0;
  for (let i = 0; i < tau.length; i++) if (Math.abs(tau[i]) > threshold) above++;
  return { threshold, keepAtThreshold: keep - above };
}

/** Zeroes the trimmed entries of τ in place. */
function trim(tau: FloatArray, rule: TrimRule): void {
  let atThreshold = 0;
  for (let i = 0; i < tau.length; i++) {
    const a = Math.abs(tau[i]);
    if (a > rule.threshold) continue;
    if (a === rule.threshold && atThreshold < rule.keepAtThreshold) {
      atThreshold++;
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
 * Trimming needs each task vector's magnitude threshold over the whole tensor; rather than
 * holding N trimmed vectors, inputs are read twice, so memory stays at a fixed number of
 * tensor-sized arrays whatever N is.
 */
export async function tiesMerge(
  base: FloatArray,
  inputs: readonly TiesInput[],
  options: { density: number; lambda: number },
): Promise<FloatArray> {
  const n = base.length;
  const f32 = base instanceof Float32Array;
  const make = (): FloatArray => (f32 ? new Float32Array(n) : new Float64Array(n));
  const r = f32 ? Math.fround : (v: number) => v;
  if (n === 0) return make();
  const keep = tiesKeepCount(options.density, n);
  const tau = make();
  const scratch = make();
  const elected = make();
  const rules: TrimRule[] = [];

  for (const input of inputs) {
    taskVector(await input.read(), base, tau);
    const rule = trimRule(tau, scratch, keep);
    rules.push(rule);
    trim(tau, rule);
    const w = r(input.weight);
    for (let i = 0; i < n; i++) elected[i] += r(w * tau[i]);
  }

  const numerator = scratch; // reused: the magnitudes are no longer needed
  numerator.fill(0);
  const denominator = make();
  for (let k = 0; k < inputs.length; k++) {
    taskVector(await inputs[k].read(), base, tau);
    trim(tau, rules[k]);
    const w = r(inputs[k].weight);
    for (let i = 0; i < n; i++) {
      const t = tau[i];
      const g = elected[i];
      if ((t > 0 && g > 0) || (t < 0 && g < 0)) {
        numerator[i] += r(w * t);
        denominator[i] += w;
      }
    }
  }

  const out = make();
  const lambda = r(options.lambda);
  for (let i = 0; i < n; i++) {
    const mean = denominator[i] > 0 ? r(numerator[i] / denominator[i]) : 0;
    out[i] = base[i] + r(lambda * mean);
  }
  return out;
}
