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
  /** Whether each model carries a `weight` (the per-layer weights of the schedule). */
  readonly perModelWeights: boolean;
  readonly parameters: readonly MergekitParameter[];
}

/** 1 − x at 15 significant digits, so that a decimal written one way reads back as it was written. */
const complement = (x: number) => Number((1 - x).toPrecision(15));

const LAMBDA: MergekitParameter = { name: "lambda", place: "global", key: "lambda" };

export const MERGEKIT_METHODS: Readonly<Partial<Record<MergeMethodName, MergekitMethod>>> = Object.freeze({
  LAYERWISE: { mergeMethod: "linear", perModelWeights: true, parameters: [] },
  TASK_ARITHMETIC: { mergeMethod: "task_arithmetic", perModelWeights: true, parameters: [LAMBDA] },
  TIES: { mergeMethod: "ties", perModelWeights: true, parameters: [LAMBDA, { name: "density", place: "perModel", key: "density" }] },
  // mergekit's DARE density is the fraction kept: 1 − the drop rate. Its seed has no key there.
  DARE: {
    mergeMethod: "dare_linear",
    perModelWeights: true,
    parameters: [LAMBDA, { name: "dropRate", place: "perModel", key: "density", toConfig: complement, fromConfig: complement }, { name: "seed", place: "layermerge", key: "seed" }],
  },
});

/** The registry method a mergekit `merge_method` names, if any. */
export function methodForMergekit(mergeMethod: string): MergeMethodName | undefined {
  return (Object.keys(MERGEKIT_METHODS) as MergeMethodName[]).find((m) => MERGEKIT_METHODS[m]!.mergeMethod === mergeMethod);
}
