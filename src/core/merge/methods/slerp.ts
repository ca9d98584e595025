import { badInput } from "../../errors";
import { defineMethod, FLOAT_DTYPES, TWO_PASSES, type MethodRecipe, type TensorMerge } from "./mergeMethod";

/** Directions closer than this (|cos θ| above it) are interpolated linearly: sin θ is too small to divide by. */
export const SLERP_DOT_THRESHOLD = 0.9995;
/** Norms at or below this are not normalised before the angle is taken. */
export const SLERP_NORM_EPS = 1e-8;

/**
 * The factors (s0, s1) of v = s0 · v0 + s1 · v1 from the tensor-wide sums v0·v1, |v0|², |v1|²,
 * as mergekit's slerp: directions normalised when their norm exceeds eps, the angle from their
 * dot product, linear interpolation when |cos θ| > 0.9995.
 */
export function slerpFactors(t: number, dot01: number, norm0Squared: number, norm1Squared: number): [number, number] {
  const n0 = Math.sqrt(norm0Squared);
  const n1 = Math.sqrt(norm1Squared);
  const cos = dot01 / ((n0 > SLERP_NORM_EPS ? n0 : 1) * (n1 > SLERP_NORM_EPS ? n1 : 1));
  if (Math.abs(cos) > SLERP_DOT_THRESHOLD) return [1 - t, t];
  const theta = Math.acos(cos);
  const sinTheta = Math.sin(theta);
  return [Math.sin(theta - theta * t) / sinTheta, Math.sin(theta * t) / sinTheta];
}

/**
 * Spherical linear interpolation between the anchor v0 and the one contributor v1, with t the
 * contributor's weight from the schedule at the tensor's layer (UNIFORM: t = ½; LINEAR: ½ at the
 * first layer to 0 at the last, which is v0). Statistic pass: dot product and squared norms, in
 * float64; apply pass: s0 · v0 + s1 · v1 on the original (not normalised) vectors.
 */
async function mergeSlerp(t: TensorMerge): Promise<void> {
  let dot01 = 0;
  let norm0 = 0;
  let norm1 = 0;
  for (const { start, count } of t.chunks) {
    const v0 = await t.read(0, start, count);
    const v1 = await t.read(1, start, count);
    for (let i = 0; i < count; i++) {
      dot01 += v0[i] * v1[i];
      norm0 += v0[i] * v0[i];
      norm1 += v1[i] * v1[i];
    }
  }
  const [s0, s1] = slerpFactors(t.inputs[1].weight, dot01, norm0, norm1);
  for (const { start, count } of t.chunks) {
    const v0 = await t.read(0, start, count);
    const v1 = await t.read(1, start, count);
    const out = t.alloc(count);
    for (let i = 0; i < count; i++) out[i] = s0 * v0[i] + s1 * v1[i];
    t.emit(start, out);
  }
}

function validate(recipe: MethodRecipe): void {
  if (recipe.contributorCount !== 1) {
    throw badInput(`SLERP interpolates between exactly two models, the anchor and one contributor; got ${recipe.contributorCount} contributors`, "input.modelIds");
  }
  if (recipe.weights) throw badInput("SLERP takes no relative weights: its factor t is the contributor's weight from the schedule", "input.weights");
}

export const slerp = defineMethod({
  name: "SLERP",
  title: "Spherical linear interpolation",
  description:
    "Interpolates between the anchor and one contributor along the arc between them, per tensor, with t the contributor's weight from the schedule (linear when they are nearly parallel).",
  // Shoemake's slerp (SIGGRAPH 1985) has no arXiv id; this is the toolkit paper whose formula it follows.
  paper: { arxiv: "2403.13257", title: "Arcee's MergeKit: A Toolkit for Merging Large Language Models" },
  needsBase: false,
  parameters: [],
  dtypes: FLOAT_DTYPES,
  reads: TWO_PASSES,
  validate,
  mergeTensor: mergeSlerp,
});
