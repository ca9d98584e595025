import type { FloatArray } from "../floatArrays";
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

/** Bits of |τ| per radix pass: 16, so a pass counts into 65536 bins. */
const DIGIT_BITS = 16;

/**
 * Statistic pass for one input: the exact k-th largest |τ| (in the working precision) and how
 * many entries exceed it, by a radix select on the bits of |τ| (for non-negative floats their
 * order as unsigned integers), 16 bits a round: each round reads the tensor chunk by chunk and
 * counts, among the entries whose higher bits match those chosen so far, each value of the next
 * 16 bits. Memory is one histogram; float32 takes two rounds, float64 four.
 */
async function trimRule(t: TensorMerge, input: number, keep: number): Promise<TrimRule> {
  const rounds = t.f64 ? 4 : 2;
  const value = t.f64 ? new Float64Array(1) : new Float32Array(1);
  // Little-endian words of the value, most significant first.
  const words = new Uint32Array(value.buffer);
  const wordOrder = t.f64 ? [1, 0] : [0];
  const digitOf = (round: number): number => {
    const word = words[wordOrder[round >> 1]];
    return round % 2 === 0 ? word >>> DIGIT_BITS : word & 0xffff;
  };
  const counts = new Float64Array(1 << DIGIT_BITS);
  const chosen: number[] = [];
  let above = 0;
  for (let round = 0; round < rounds; round++) {
    counts.fill(0);
    for (const { start, count } of t.chunks) {
      const base = await t.readBase(start, count);
      const x = await t.read(input, start, count);
      for (let i = 0; i < count; i++) {
        value[0] = Math.abs(x[i] - base[i]);
        let r = 0;
        while (r < round && digitOf(r) === chosen[r]) r++;
        if (r === round) counts[digitOf(round)]++;
      }
    }
    let need = keep - above;
    let digit = counts.length - 1;
    while (counts[digit] < need) {
      need -= counts[digit];
      above += counts[digit];
      digit--;
    }
    chosen.push(digit);
  }
  for (let round = 0; round < rounds; round++) {
    const w = wordOrder[round >> 1];
    words[w] = round % 2 === 0 ? (chosen[round] << DIGIT_BITS) >>> 0 : (words[w] | chosen[round]) >>> 0;
  }
  return { threshold: value[0], keepAtThreshold: keep - above };
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
 * Two passes, both chunk by chunk: the trim thresholds need each task vector's magnitudes over
 * the whole tensor (statistic pass, one input at a time, a radix select); election and mean are
 * per element, so the apply pass holds one trimmed chunk per input.
 */
async function mergeTies(t: TensorMerge): Promise<void> {
  const n = t.elements;
  if (n === 0) return;
  const r = t.f64 ? (v: number) => v : Math.fround;
  const keep = tiesKeepCount(t.params.density, n);
  const rules: TrimRule[] = [];
  for (let k = 0; k < t.inputs.length; k++) rules.push(await trimRule(t, k, keep));

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
  // The statistic pass reads each input beside the base once per radix round, the apply pass once more.
  reads: (inputCount, f64) => ({ eachInput: (f64 ? 4 : 2) + 1, base: inputCount * (f64 ? 4 : 2) + 1 }),
  mergeTensor: mergeTies,
});
