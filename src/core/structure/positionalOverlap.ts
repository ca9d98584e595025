import { classify, computeOverlap, type GroupOverlap, type Overlap, type TensorMismatch } from "./computeOverlap";
import { overlapIndex, type IndexedTensor, type OverlapIndex, type StructureLike } from "./overlapIndex";
import type { TensorMatching } from "./tensorMatching";

/** The overlap of two structures with tensors paired as `matching` says. */
export function overlapBy(a: StructureLike, b: StructureLike, matching: TensorMatching): Overlap {
  return matching === "POSITION" ? positionalOverlap(overlapIndex(a), overlapIndex(b)) : computeOverlap(a, b);
}

/**
 * `computeOverlap` with tensors paired by positional key instead of name: a's tensor and b's
 * tensor with the same key are judged by the same rule as a name match (`classify`). Shared
 * tensors are counted in a's groups (b's names may be generated and group nothing).
 *
 * Cost: two lookups when the structures share no first-layer key (the common case across a
 * registry, see `OverlapIndex.rootKeys`), else one lookup per keyed tensor of a.
 */
export function positionalOverlap(ia: OverlapIndex, ib: OverlapIndex): Overlap {
  return overlapOfPairs(ia, ib, positionalPairs(ia, ib));
}

/** Whether two structures share any positional key (cheap when they do not: the pre-check). */
export function sharesPositions(ia: OverlapIndex, ib: OverlapIndex): boolean {
  return positionalPairs(ia, ib).length > 0;
}

function overlapOfPairs(ia: OverlapIndex, ib: OverlapIndex, pairs: ReadonlyArray<[IndexedTensor, IndexedTensor]>): Overlap {
  const groups = new Map<string, GroupOverlap>();
  for (const g of ia.groups.values()) groups.set(g.prefix, { prefix: g.prefix, shared: 0, sharedParameters: 0, tensorsA: g.parameterTensorCount, tensorsB: ib.groups.get(g.prefix)?.parameterTensorCount ?? 0 });
  for (const g of ib.groups.values()) if (!groups.has(g.prefix)) groups.set(g.prefix, { prefix: g.prefix, shared: 0, sharedParameters: 0, tensorsA: 0, tensorsB: g.parameterTensorCount });
  const mismatches: TensorMismatch[] = [];
  let sharedTensorCount = 0;
  let sharedParameterCount = 0;
  for (const [ta, tb] of pairs) {
    const verdict = classify(ta, tb);
    if (verdict.shared) {
      const g = groups.get(ta.group)!;
      g.shared++;
      g.sharedParameters += ta.elements;
      sharedTensorCount++;
      sharedParameterCount += ta.elements;
    }
    if (verdict.mismatch !== undefined) mismatches.push({ ...verdict.mismatch, nameB: tb.name });
  }
  return {
    sharedTensorCount,
    sharedParameterCount,
    fractionOfA: ia.parameterElements === 0 ? 0 : sharedParameterCount / ia.parameterElements,
    fractionOfB: ib.parameterElements === 0 ? 0 : sharedParameterCount / ib.parameterElements,
    groups: [...groups.values()],
    mismatches,
  };
}

/** a's tensors with a partner of the same positional key in b, in a's order. */
export function positionalPairs(ia: OverlapIndex, ib: OverlapIndex): Array<[IndexedTensor, IndexedTensor]> {
  if (!ia.rootKeys.some((k) => ib.byPosition.has(k)) && !ib.rootKeys.some((k) => ia.byPosition.has(k))) return [];
  const pairs: Array<[IndexedTensor, IndexedTensor]> = [];
  for (const ta of ia.tensors) {
    const tb = ta.positionKey === undefined ? undefined : ib.byPosition.get(ta.positionKey);
    if (tb !== undefined) pairs.push([ta, tb]);
  }
  return pairs;
}
