import { createHash } from "node:crypto";
import { classify } from "../structure/computeOverlap";
import { overlapIndex, type StructureLike } from "../structure/overlapIndex";

export interface ComparedTensor {
  /** a's group (module prefix): what the tensor's similarity is reported under. */
  group: string;
  /** The tensor's name in a and in b. */
  a: string;
  b: string;
}

export interface ComparedTensors {
  tensors: ComparedTensor[];
  elements: number;
  /** sha256 of the list: part of a stored similarity's key, so a change of matching rule recomputes. */
  hash: string;
}

/**
 * The tensors whose values a similarity compares: the shared parameters of a and b (the ones a
 * merge averages), in a's tensor order. Matching is by name, as candidates' shared fraction is
 * (docs/CONVENTIONS.md, Shared tensors).
 */
export function comparedTensors(a: StructureLike, b: StructureLike): ComparedTensors {
  const ia = overlapIndex(a);
  const ib = overlapIndex(b);
  const tensors: ComparedTensor[] = [];
  let elements = 0;
  for (const ta of ia.tensors) {
    const tb = ib.byName.get(ta.name);
    if (tb === undefined || !classify(ta, tb).shared) continue;
    tensors.push({ group: ta.group, a: ta.name, b: tb.name });
    elements += ta.elements;
  }
  const hash = createHash("sha256").update(JSON.stringify(tensors.map((t) => [t.group, t.a, t.b]))).digest("hex");
  return { tensors, elements, hash };
}

/** True when `c` holds every compared tensor under a's name with a's shape, as a parameter. */
export function holdsCompared(a: StructureLike, c: StructureLike, compared: ComparedTensors): boolean {
  const ia = overlapIndex(a);
  const ic = overlapIndex(c);
  for (const t of compared.tensors) {
    const ta = ia.byName.get(t.a)!;
    const tc = ic.byName.get(t.a);
    if (tc === undefined || !classify(ta, tc).shared) return false;
  }
  return true;
}
