import type { DType } from "../../structure/types";
import type { FloatArray } from "../floatArrays";
import type { LayerwiseAccumulator } from "../layerwiseAccumulator";
import type { MergeSchedule, ScheduleInput } from "../mergeSchedule";
import type { MergeInput } from "../planMerge";

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

/** What a method may check of a recipe before anything is read (plan time). */
export interface MethodRecipe {
  readonly contributorCount: number;
  /** Relative contributor weights as given, or null. */
  readonly weights: readonly number[] | null;
  readonly schedule: MergeSchedule;
}

/**
 * One merged tensor as the scheduler hands it to a method: reads come back decoded into the
 * working precision (float32, float64 when the anchor's tensor is F64) and checked finite, and
 * every element of the result is handed back through `emit`, in any number of pieces.
 */
export interface TensorMerge {
  readonly name: string;
  readonly elements: number;
  /** Anchor first, then the contributors sharing the tensor, with their weights w_k(l). */
  readonly inputs: readonly MergeInput[];
  readonly params: Readonly<Record<string, number>>;
  readonly f64: boolean;
  /** The pieces reads may be split into: chunks when every input can be read by range, else the whole tensor. */
  readonly chunks: ReadonlyArray<{ readonly start: number; readonly count: number }>;
  /** Elements [start, start + count) of `inputs[input]`, in a buffer of their own. */
  read(input: number, start: number, count: number): Promise<FloatArray>;
  /** Elements [start, start + count) of the base model's tensor. */
  readBase(start: number, count: number): Promise<FloatArray>;
  /** A zeroed array of the working precision. */
  alloc(count: number): FloatArray;
  /** The merged values of elements [start, start + values.length); encoded at once, so `values` may be reused. */
  emit(start: number, values: FloatArray): void;
}

/**
 * A fused kernel for θ = Σ_k w_k θ_k that decodes each input straight from its bytes (SIMD when
 * available). The scheduler streams it chunk by chunk with reads in flight and output slots;
 * float32 working precision only (F64 tensors go through `mergeTensor`).
 */
export interface FusedWeightedSum {
  take(capacity: number, kind?: "simd" | "js"): LayerwiseAccumulator;
  give(acc: LayerwiseAccumulator): void;
  create(capacity: number, kind?: "simd" | "js"): LayerwiseAccumulator;
}

/**
 * A merge strategy (mergekit's shape): its metadata and its kernel. Element-wise methods merge
 * chunk by chunk; methods needing a tensor-wide statistic read their inputs twice, a statistic
 * pass then an apply pass, so memory stays bounded by chunks rather than tensors.
 */
export interface MergeMethodDefinition<Name extends string = string> {
  readonly name: Name;
  readonly title: string;
  readonly description: string;
  readonly paper: { readonly arxiv: string; readonly title: string };
  /** Whether the method works on differences θ_k − θ_base and needs the common pre-trained model. */
  readonly needsBase: boolean;
  readonly parameters: readonly MethodParameter[];
  /** Working dtypes of the anchor's tensors it merges (others are copied). */
  readonly dtypes: readonly DType[];
  /** The schedule when the caller gives none (LINEAR unless said here). */
  readonly defaultSchedule?: ScheduleInput;
  /**
   * How many times a tensor's kernel reads each input and the base, for `inputCount` inputs
   * (progress counts what is really read): once each for element-wise methods, more with a
   * statistic pass.
   */
  reads(inputCount: number, f64: boolean): { eachInput: number; base: number };
  /** Plan-time checks beyond the common ones; throws BAD_USER_INPUT naming the field. */
  validate?(recipe: MethodRecipe): void;
  /** Merges one tensor. */
  mergeTensor(t: TensorMerge): Promise<void>;
  /** Optional fast path for float32 tensors when the method is a plain weighted sum. */
  readonly fusedWeightedSum?: FusedWeightedSum;
}

export const FLOAT_DTYPES: readonly DType[] = ["F32", "F64", "F16", "BF16"];

/** Reads of an element-wise method: each input and the base once. */
export const ONE_PASS = (): { eachInput: number; base: number } => ({ eachInput: 1, base: 1 });
/** Reads of a statistic pass over every input and the base, then an apply pass. */
export const TWO_PASSES = (): { eachInput: number; base: number } => ({ eachInput: 2, base: 2 });

/** A method's definition, frozen, with its name kept as a literal type. */
export function defineMethod<Name extends string>(definition: MergeMethodDefinition<Name>): MergeMethodDefinition<Name> {
  return deepFreeze(definition);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    Object.values(value as Record<string, unknown>).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

/**
 * An element-wise method's tensor kernel: `fold` merges elements [start, start + count) into a
 * zeroed accumulator, chunk after chunk.
 */
export function chunkwise(fold: (t: TensorMerge, start: number, count: number, acc: FloatArray) => Promise<void>): (t: TensorMerge) => Promise<void> {
  return async (t) => {
    for (const { start, count } of t.chunks) {
      const acc = t.alloc(count);
      await fold(t, start, count, acc);
      t.emit(start, acc);
    }
  };
}
