import { classify, type TensorMismatch } from "./computeOverlap";
import { overlapIndex, type IndexedTensor, type StructureLike } from "./overlapIndex";
import { overlapBy, positionalPairs } from "./positionalOverlap";
import type { TensorMatching } from "./tensorMatching";
import type { DType } from "./types";

export interface CappedList<T> {
  /** How many there are in all; `items` holds at most `cap` of them. */
  total: number;
  items: T[];
}

export interface ListedTensor {
  name: string;
  shape: readonly number[];
  dtype: DType;
}

export interface SharedTensor {
  name: string;
  /** b's name for it when matched by position (by name it is `name`). */
  nameB?: string;
  shape: readonly number[];
  dtypeA: DType;
  dtypeB: DType;
}

export interface StructureComparison {
  /** How tensors were paired. */
  matching: TensorMatching;
  sharedTensorCount: number;
  sharedParameterCount: number;
  fractionOfA: number;
  fractionOfB: number;
  /** Tensors of a with no partner in b (a's order). */
  onlyInA: CappedList<ListedTensor>;
  /** Tensors of b with no partner in a (b's order). */
  onlyInB: CappedList<ListedTensor>;
  /** As `computeOverlap`'s mismatches: shape differences, parameter on one side only, and dtype-only differences (which are also shared). */
  mismatched: CappedList<TensorMismatch>;
  shared: CappedList<SharedTensor>;
  /** Pairs where neither is a parameter (integer buffers, quantized data). */
  neitherParameter: CappedList<ListedTensor>;
}

/**
 * A side-by-side comparison of two structures for people (the `compareStructures` query): every
 * tensor of a lands in exactly one of onlyInA, shared, neitherParameter or the non-mergeable
 * mismatches, and every tensor of b in the analogous buckets. Tensors are paired by name, or by
 * positional key with `matching` POSITION (then `nameB` says what b calls the tensor).
 */
export function compareStructures(a: StructureLike, b: StructureLike, cap = 100, matching: TensorMatching = "NAME"): StructureComparison {
  const ia = overlapIndex(a);
  const ib = overlapIndex(b);
  const overlap = overlapBy(a, b, matching);
  const partners = new Map<IndexedTensor, IndexedTensor>();
  if (matching === "POSITION") for (const [ta, tb] of positionalPairs(ia, ib)) partners.set(ta, tb);
  else for (const ta of ia.tensors) {
    const tb = ib.byName.get(ta.name);
    if (tb !== undefined) partners.set(ta, tb);
  }
  const paired = new Set(partners.values());
  const onlyInA = capped<ListedTensor>(cap);
  const onlyInB = capped<ListedTensor>(cap);
  const mismatched = capped<TensorMismatch>(cap);
  const shared = capped<SharedTensor>(cap);
  const neitherParameter = capped<ListedTensor>(cap);
  for (const ta of ia.tensors) {
    const tb = partners.get(ta);
    if (tb === undefined) {
      onlyInA.add({ name: ta.name, shape: ta.shape, dtype: ta.dtype });
      continue;
    }
    const verdict = classify(ta, tb);
    if (verdict.shared) shared.add({ name: ta.name, ...(matching === "POSITION" ? { nameB: tb.name } : {}), shape: ta.shape, dtypeA: ta.dtype, dtypeB: tb.dtype });
    if (verdict.mismatch !== undefined) mismatched.add(matching === "POSITION" ? { ...verdict.mismatch, nameB: tb.name } : verdict.mismatch);
    if (!verdict.shared && verdict.mismatch === undefined) neitherParameter.add({ name: ta.name, shape: ta.shape, dtype: ta.dtype });
  }
  for (const tb of ib.tensors) {
    if (!paired.has(tb)) onlyInB.add({ name: tb.name, shape: tb.shape, dtype: tb.dtype });
  }
  return {
    matching,
    sharedTensorCount: overlap.sharedTensorCount,
    sharedParameterCount: overlap.sharedParameterCount,
    fractionOfA: overlap.fractionOfA,
    fractionOfB: overlap.fractionOfB,
    onlyInA: onlyInA.list,
    onlyInB: onlyInB.list,
    mismatched: mismatched.list,
    shared: shared.list,
    neitherParameter: neitherParameter.list,
  };
}

function capped<T>(cap: number): { list: CappedList<T>; add(item: T): void } {
  const list: CappedList<T> = { total: 0, items: [] };
  return {
    list,
    add(item) {
      list.total++;
      if (list.items.length < cap) list.items.push(item);
    },
  };
}
