import type { MergeMethodName } from "../mergeMethods";

/**
 * How each merge method reads in a mergekit config (mergekit's `merge_method` names and
 * `parameters` keys). A method without an entry has no mergekit equivalent: its merges have no
 * `recipeYaml` and no config names it. Adding a method is one entry here.
 */
export interface MergekitParameter {
  /** The parameter's name in the method registry (mergeMethods.ts). */
  readonly name: string;
  /**
   * `global`: the config's top-level `parameters`; `perModel`: every model's `parameters` (one
   * value for all, as the registry has one); `layermerge`: the `layermerge:` block, for what
   * mergekit has no word for.
   */
  readonly place: "global" | "perModel" | "layermerge";
  /** Its key there. */
  readonly key: string;
  /** Registry value → config value, and back (identity when absent). */
  readonly toConfig?: (value: number) => number;
  readonly fromConfig?: (value: number) => number;
}

export interface MergekitMethod {
  readonly mergeMethod: string;
  /**
   * Where the schedule's per-layer weights go: `perModel`, every model's `weight`; `t`, the
   * global `t` (the contributor's weight; the anchor is the `base_model` interpolated from, as
   * mergekit's slerp reads it); `none`, nowhere (the method weighs its models itself).
   */
  readonly weights: "perModel" | "t" | "none";
  readonly parameters: readonly MergekitParameter[];
}

/** 1 − x at 15 significant digits, so that a decimal written one way reads back as it was written. */
const complement = (x: number) => Number((1 - x).toPrecision(15));

const LAMBDA: MergekitParameter = { name: "lambda", place: "global", key: "lambda" };

export const MERGEKIT_METHODS: Readonly<Partial<Record<MergeMethodName, MergekitMethod>>> = Object.freeze({
  LAYERWISE: { mergeMethod: "linear", weights: "perModel", parameters: [] },
  TASK_ARITHMETIC: { mergeMethod: "task_arithmetic", weights: "perModel", parameters: [LAMBDA] },
  TIES: { mergeMethod: "ties", weights: "perModel", parameters: [LAMBDA, { name: "density", place: "perModel", key: "density" }] },
  // mergekit's DARE density is the fraction kept: 1 − the drop rate. Its seed has no key there.
  DARE: {
    mergeMethod: "dare_linear",
    weights: "perModel",
    parameters: [LAMBDA, { name: "dropRate", place: "perModel", key: "density", toConfig: complement, fromConfig: complement }, { name: "seed", place: "layermerge", key: "seed" }],
  },
  // mergekit's slerp goes from base_model (t = 0) to the other model (t = 1): the anchor is its
  // base_model and t the contributor's weight, per layer a gradient list.
  SLERP: { mergeMethod: "slerp", weights: "t", parameters: [] },
  // Model Stock weighs its fine-tuned models itself (equally, UNIFORM): no weights are written.
  MODEL_STOCK: { mergeMethod: "model_stock", weights: "none", parameters: [] },
});

/** The registry method a mergekit `merge_method` names, if any. */
export function methodForMergekit(mergeMethod: string): MergeMethodName | undefined {
  return (Object.keys(MERGEKIT_METHODS) as MergeMethodName[]).find((m) => MERGEKIT_METHODS[m]!.mergeMethod === mergeMethod);
}
