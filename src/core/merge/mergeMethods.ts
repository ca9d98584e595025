import { badInput } from "../errors";

/** Merge method names; the GraphQL enum is derived from this tuple. */
export const MERGE_METHOD_NAMES = ["LAYERWISE", "TASK_ARITHMETIC", "TIES", "DARE"] as const;
export type MergeMethodName = (typeof MERGE_METHOD_NAMES)[number];

export const DEFAULT_MERGE_METHOD: MergeMethodName = "LAYERWISE";

export interface MethodParameter {
  readonly name: string;
  readonly type: "FLOAT" | "INT";
  readonly default: number;
  readonly min: number;
  readonly max: number;
  /** False when `min` itself is not allowed (density 0 would keep nothing). */
  readonly minInclusive: boolean;
  readonly maxInclusive: boolean;
  readonly description: string;
}

export interface MergeMethod {
  readonly name: MergeMethodName;
  readonly title: string;
  readonly description: string;
  readonly paper: { readonly arxiv: string; readonly title: string };
  /** TA/TIES/DARE work on task vectors θ_k − θ_base and need the common pre-trained model. */
  readonly needsBase: boolean;
  readonly parameters: readonly MethodParameter[];
}

const LAMBDA: MethodParameter = {
  name: "lambda",
  type: "FLOAT",
  default: 1,
  min: 0,
  max: 10,
  minInclusive: true,
  maxInclusive: true,
  description: "Scale λ of the merged task vector: θ = θ_base + λ · Σ_k w_k(l) τ'_k.",
};

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    Object.values(value as Record<string, unknown>).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

/**
 * The frozen registry of merge strategies (as mergekit's: keyed by name, each with its
 * parameter schema and paper). Schedules (mergeSchedule.ts) give every method its per-layer
 * weights w_k(l); with the UNIFORM schedule TA/TIES/DARE are the published methods.
 */
export const MERGE_METHODS: Readonly<Record<MergeMethodName, MergeMethod>> = deepFreeze({
  LAYERWISE: {
    name: "LAYERWISE",
    title: "Layer-wise merging",
    description:
      "θ(l) = Σ_k w_k(l) θ_k(l): early layers averaged, late layers kept close to the anchor, following the schedule.",
    paper: { arxiv: "2409.15813", title: "Layer-wise Model Merging for Unsupervised Domain Adaptation in Segmentation Tasks" },
    needsBase: false,
    parameters: [],
  },
  TASK_ARITHMETIC: {
    name: "TASK_ARITHMETIC",
    title: "Task arithmetic",
    description: "Adds the weighted task vectors τ_k = θ_k − θ_base, scaled by λ, to the base model.",
    paper: { arxiv: "2212.04089", title: "Editing Models with Task Arithmetic" },
    needsBase: true,
    parameters: [LAMBDA],
  },
  TIES: {
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
  },
  DARE: {
    name: "DARE",
    title: "DARE (drop and rescale)",
    description:
      "Drops each task-vector entry with probability p and rescales the survivors by 1/(1 − p), then adds them as task arithmetic does.",
    paper: { arxiv: "2311.03099", title: "Language Models are Super Mario: Absorbing Abilities from Homologous Models as a Free Lunch" },
    needsBase: true,
    parameters: [
      LAMBDA,
      {
        name: "dropRate",
        type: "FLOAT",
        // The paper's headline rate: dropping 90% of the delta parameters (rescaled) keeps the
        // fine-tuned abilities (arXiv 2311.03099, §4). The same paper tunes p per merge and
        // shows high rates fail when deltas are large (models trained far from the base), so
        // users of such models should lower it.
        default: 0.9,
        min: 0,
        max: 1,
        minInclusive: true,
        maxInclusive: false,
        description: "Drop rate p of task-vector entries; survivors are rescaled by 1/(1 − p).",
      },
      {
        name: "seed",
        type: "INT",
        default: 0,
        min: 0,
        max: 4294967295,
        minInclusive: true,
        maxInclusive: true,
        description: "Seed of the counter-based drop generator: the same seed gives the same drops.",
      },
    ],
  },
});

/** A known method name, else BAD_USER_INPUT listing the valid ones. */
export function resolveMethodName(name: string | null | undefined): MergeMethodName {
  const value = name ?? DEFAULT_MERGE_METHOD;
  if (!(MERGE_METHOD_NAMES as readonly string[]).includes(value)) {
    throw badInput(`unknown merge method ${JSON.stringify(value)}; expected one of ${MERGE_METHOD_NAMES.join(", ")}`, "input.method");
  }
  return value as MergeMethodName;
}

/**
 * Checks `params` against the method's schema and fills defaults: the exact parameter set a
 * merge record stores, so that the merge can be re-run.
 */
export function resolveMethodParams(method: MergeMethodName, params: Readonly<Record<string, unknown>> | null | undefined): Record<string, number> {
  const schema = MERGE_METHODS[method].parameters;
  const given = params ?? {};
  for (const key of Object.keys(given)) {
    if (!schema.some((p) => p.name === key)) {
      const known = schema.length ? `its parameters are ${schema.map((p) => p.name).join(", ")}` : "it takes no parameters";
      throw badInput(`${method} has no parameter ${JSON.stringify(key)}; ${known}`, `input.params.${key}`);
    }
  }
  const resolved: Record<string, number> = {};
  for (const p of schema) {
    const raw = given[p.name];
    const value = raw === undefined || raw === null ? p.default : raw;
    const field = `input.params.${p.name}`;
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw badInput(`${method} parameter ${p.name} must be a finite number, got ${JSON.stringify(value)}`, field);
    }
    if (p.type === "INT" && !Number.isInteger(value)) {
      throw badInput(`${method} parameter ${p.name} must be an integer, got ${value}`, field);
    }
    const aboveMin = p.minInclusive ? value >= p.min : value > p.min;
    const belowMax = p.maxInclusive ? value <= p.max : value < p.max;
    if (!aboveMin || !belowMax) {
      const range = `${p.minInclusive ? "[" : "("}${p.min}, ${p.max}${p.maxInclusive ? "]" : ")"}`;
      throw badInput(`${method} parameter ${p.name} must be in ${range}, got ${value}`, field);
    }
    resolved[p.name] = value;
  }
  return resolved;
}
