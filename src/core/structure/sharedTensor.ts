import { isFloating, type DType } from "./types";

/*
 * The one statement of which tensors two models share (docs/CONVENTIONS.md, Shared tensors):
 * ranking merge candidates (computeOverlap) and planning a merge (planMerge) both ask here.
 */

interface TensorFacts {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly mergeable: boolean;
}

/** A parameter: mergeable and of a floating dtype. Integer and quantized tensors never are. */
export function isParameter(t: { readonly dtype: DType; readonly mergeable: boolean }): boolean {
  return t.mergeable && isFloating(t.dtype);
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Whether two tensors of the same name are shared: both parameters with the same shape. Their
 * dtypes may differ (F32 vs F16): still shared, converted when merged.
 */
export function isShared(a: TensorFacts, b: TensorFacts): boolean {
  return isParameter(a) && isParameter(b) && sameShape(a.shape, b.shape);
}
