import { invariant } from "../errors";
import { MergeSchedule, layerPosition, scheduleValue } from "./mergeSchedule";

/**
 * Effective weights of the N models sharing one parameter at layer l (docs/CONVENTIONS.md,
 * Layer-wise weights; arXiv 2409.15813):
 *
 *     w_a(l) = 1/N + (1 − 1/N) · s(t),   t = l / (L − 1)
 *     w_i(l) = (1 − w_a(l)) · r_i / Σ_j r_j   (r_i ≡ 1 when no relative weights are given)
 *
 * `relative` holds r_i of the N − 1 contributors that share the parameter, in model order; their
 * sum must be positive (the planner reports which tensor breaks that). The result is anchor
 * first, then those contributors, and sums to 1.
 */
export function layerWeights(
  schedule: MergeSchedule,
  layerIndex: number,
  layerCount: number,
  relative: readonly number[],
): number[] {
  const n = relative.length + 1;
  const s = scheduleValue(schedule, layerPosition(layerIndex, layerCount));
  const anchor = 1 / n + (1 - 1 / n) * s;
  if (n === 1) return [1];
  const total = relative.reduce((a, b) => a + b, 0);
  invariant(total > 0, "relative weights of the contributors sharing a tensor must not all be zero");
  return [anchor, ...relative.map((r) => ((1 - anchor) * r) / total)];
}
