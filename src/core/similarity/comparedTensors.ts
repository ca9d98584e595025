import { createHash } from "node:crypto";
import { classify } from "../structure/computeOverlap";
import { overlapIndex, type IndexedTensor, type StructureLike } from "../structure/overlapIndex";
import { positionalPairs } from "../structure/positionalOverlap";
import type { TensorMatching } from "../structure/tensorMatching";

export interface ComparedTensor {
  /** a's group (module prefix): what the tensor's similarity is reported under. */
  group: string;
  /** The tensor's name in a and in b. */
  a: string;
  b: string;
}

export interface ComparedTensors {
  /** How the tensors were paired: the candidate's own matching. */
  matching: TensorMatching;
  tensors: ComparedTensor[];
  elements: number;
  /** sha256 of the list: part of a stored similarity's key, so a change of matching rule recomputes. */
  hash: string;
}

/**
 * The tensors whose values a similarity compares: the shared parameters of a and b (the ones a
 * merge averages), in a's tensor order, paired as the candidate is (`matching`: by name, or by
 * positional key for exports with generated names; docs/CONVENTIONS.md, Shared tensors and
 * Positional keys).
 */
export function comparedTensors(a: StructureLike, b: StructureLike, matching: TensorMatching = "NAME"): ComparedTensors {
  const ia = overlapIndex(a);
  const ib = overlapIndex(b);
  const pairs: Array<[IndexedTensor, IndexedTensor | undefined]> = matching === "POSITION" ? positionalPairs(ia, ib) : ia.tensors.map((ta) => [ta, ib.byName.get(ta.name)]);
  const tensors: ComparedTensor[] = [];
  let elements = 0;
  for (const [ta, tb] of pairs) {
    if (tb === undefined || !classify(ta, tb).shared) continue;
    tensors.push({ group: ta.group, a: ta.name, b: tb.name });
    elements += ta.elements;
  }
  const hash = createHash("sha256").update(JSON.stringify(tensors.map((t) => [t.group, t.a, t.b]))).digest("hex");
  return { matching, tensors, elements, hash };
}

/**
 * The ancestor `c`'s name for each compared tensor, found as the pair was matched (a's name, or
 * a's positional key) with a's shape, as a parameter; null when `c` lacks any of them.
 */
export function ancestorNames(a: StructureLike, c: StructureLike, compared: ComparedTensors): string[] | null {
  const ia = overlapIndex(a);
  const ic = overlapIndex(c);
  const names: string[] = [];
  for (const t of compared.tensors) {
    const ta = ia.byName.get(t.a)!;
    const tc = compared.matching === "POSITION" ? (ta.positionKey === undefined ? undefined : ic.byPosition.get(ta.positionKey)) : ic.byName.get(t.a);
    if (tc === undefined || !classify(ta, tc).shared) return null;
    names.push(tc.name);
  }
  return names;
}
