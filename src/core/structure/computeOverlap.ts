import type { IndexedTensor } from "./overlapIndex";
import { overlapIndex, type StructureLike } from "./overlapIndex";
import { isShared } from "./sharedTensor";
import type { DType } from "./types";

export interface TensorMismatch {
  name: string;
  /** b's name when the tensors were paired by position (structure/positionalOverlap). */
  nameB?: string;
  shapeA: readonly number[];
  shapeB: readonly number[];
  dtypeA: DType;
  dtypeB: DType;
  /** True for a floating-dtype difference alone: still shared, converted when merged. */
  mergeable: boolean;
}

export interface GroupOverlap {
  prefix: string;
  /** Shared parameter tensors. */
  shared: number;
  /** Elements of the shared parameter tensors. */
  sharedParameters: number;
  /** Parameter tensors of this group in a and in b (the denominators a dashboard shows). */
  tensorsA: number;
  tensorsB: number;
}

export interface Overlap {
  sharedTensorCount: number;
  sharedParameterCount: number;
  /** Shared elements / a's parameter elements (0 when a has none). */
  fractionOfA: number;
  fractionOfB: number;
  /** a's groups in their order, then b's other groups. */
  groups: GroupOverlap[];
  /** In a's group order, then a's tensor order. */
  mismatches: TensorMismatch[];
}

/**
 * How much two structures share (what merge candidates are ranked by): same-named tensors that
 * are shared (sharedTensor.ts); a dtype difference among them is listed as a mergeable mismatch.
 * A name match is a non-mergeable mismatch when the shapes differ or only one side is a parameter. Names that are
 * parameters on neither side (BatchNorm counters, quantized weights) are neither shared nor
 * mismatched: they do not explain anything about mergeability.
 *
 * Cost: groups with equal hashes are taken whole; groups present on one side only cost nothing;
 * only groups that differ are walked tensor by tensor. Pass the same structure objects again and
 * their indexes are reused (see `overlapIndex`).
 */
export function computeOverlap(a: StructureLike, b: StructureLike): Overlap {
  const ia = overlapIndex(a);
  const ib = overlapIndex(b);
  const groups: GroupOverlap[] = [];
  const mismatches: TensorMismatch[] = [];
  let sharedTensorCount = 0;
  let sharedParameterCount = 0;
  for (const ga of ia.groups.values()) {
    const gb = ib.groups.get(ga.prefix);
    const overlap: GroupOverlap = { prefix: ga.prefix, shared: 0, sharedParameters: 0, tensorsA: ga.parameterTensorCount, tensorsB: gb?.parameterTensorCount ?? 0 };
    groups.push(overlap);
    if (gb === undefined) continue;
    if (ga.hash === gb.hash) {
      overlap.shared = ga.parameterTensorCount;
      overlap.sharedParameters = ga.parameterElements;
    } else {
      for (const ta of ga.tensors) {
        const tb = ib.byName.get(ta.name);
        if (tb === undefined) continue;
        const verdict = classify(ta, tb);
        if (verdict.shared) {
          overlap.shared++;
          overlap.sharedParameters += ta.elements;
        }
        if (verdict.mismatch !== undefined) mismatches.push(verdict.mismatch);
      }
    }
    sharedTensorCount += overlap.shared;
    sharedParameterCount += overlap.sharedParameters;
  }
  for (const gb of ib.groups.values()) {
    if (!ia.groups.has(gb.prefix)) groups.push({ prefix: gb.prefix, shared: 0, sharedParameters: 0, tensorsA: 0, tensorsB: gb.parameterTensorCount });
  }
  return {
    sharedTensorCount,
    sharedParameterCount,
    fractionOfA: ia.parameterElements === 0 ? 0 : sharedParameterCount / ia.parameterElements,
    fractionOfB: ib.parameterElements === 0 ? 0 : sharedParameterCount / ib.parameterElements,
    groups,
    mismatches,
  };
}

/** A pair of tensors with the same name, classified; `compareStructures` uses it too. */
export function classify(ta: IndexedTensor, tb: IndexedTensor): { shared: boolean; mismatch?: TensorMismatch } {
  const shared = isShared(ta, tb);
  const mismatch = (mergeable: boolean): TensorMismatch => ({
    name: ta.name, shapeA: ta.shape, shapeB: tb.shape, dtypeA: ta.dtype, dtypeB: tb.dtype, mergeable,
  });
  if (shared) return ta.dtype === tb.dtype ? { shared } : { shared, mismatch: mismatch(true) };
  if (!ta.parameter && !tb.parameter) return { shared };
  return { shared, mismatch: mismatch(false) };
}
