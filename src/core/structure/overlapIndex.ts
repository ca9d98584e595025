import { groupHash } from "./structureHash";
import { shapeKey } from "./tensorSignature";
import { isParameter } from "./sharedTensor";
import type { TensorInfo } from "./types";

export type OverlapTensor = Pick<TensorInfo, "name" | "shape" | "dtype" | "mergeable" | "group" | "elements">;

/** Anything with a tensor list: a `ParsedModel`, a stored `Structure`, a test fixture. */
export interface StructureLike {
  tensors: readonly OverlapTensor[];
}

export interface IndexedTensor {
  name: string;
  shape: readonly number[];
  shapeKey: string;
  dtype: OverlapTensor["dtype"];
  mergeable: boolean;
  /** isParameter (sharedTensor.ts): only parameters are ever shared. */
  parameter: boolean;
  elements: number;
  group: string;
}

export interface IndexedGroup {
  prefix: string;
  /** `groupHash`: equal hashes mean identical tensors, so the group is shared without a visit. */
  hash: string;
  tensors: IndexedTensor[];
  parameterTensorCount: number;
  parameterElements: number;
}

/**
 * The compact, precomputed form of a structure that `computeOverlap` works on. Building it costs
 * one pass and one hash per group; comparing two indexes then costs a few group-hash comparisons
 * plus one map lookup per tensor of the groups that differ.
 */
export interface OverlapIndex {
  byName: ReadonlyMap<string, IndexedTensor>;
  /** In order of first appearance. */
  groups: ReadonlyMap<string, IndexedGroup>;
  tensors: readonly IndexedTensor[];
  parameterElements: number;
}

/**
 * Indexes are cached per structure object: the registry compares one new structure with every
 * known one, and each known structure's index is built once, not once per comparison. Structures
 * are therefore treated as immutable: build a new object rather than editing `tensors` in place.
 */
const cache = new WeakMap<StructureLike, OverlapIndex>();

export function overlapIndex(structure: StructureLike): OverlapIndex {
  let index = cache.get(structure);
  if (index === undefined) {
    index = buildOverlapIndex(structure);
    cache.set(structure, index);
  }
  return index;
}

function buildOverlapIndex(structure: StructureLike): OverlapIndex {
  const byName = new Map<string, IndexedTensor>();
  const groups = new Map<string, IndexedGroup>();
  const members = new Map<string, OverlapTensor[]>();
  const tensors: IndexedTensor[] = [];
  let parameterElements = 0;
  for (const t of structure.tensors) {
    const parameter = isParameter(t);
    const entry: IndexedTensor = {
      name: t.name, shape: t.shape, shapeKey: shapeKey(t.shape), dtype: t.dtype, mergeable: t.mergeable, parameter, elements: t.elements, group: t.group,
    };
    byName.set(t.name, entry);
    tensors.push(entry);
    let g = groups.get(t.group);
    if (g === undefined) {
      groups.set(t.group, g = { prefix: t.group, hash: "", tensors: [], parameterTensorCount: 0, parameterElements: 0 });
      members.set(t.group, []);
    }
    g.tensors.push(entry);
    members.get(t.group)!.push(t);
    if (parameter) {
      g.parameterTensorCount++;
      g.parameterElements += t.elements;
      parameterElements += t.elements;
    }
  }
  for (const g of groups.values()) g.hash = groupHash(g.prefix, members.get(g.prefix)!);
  return { byName, groups, tensors, parameterElements };
}
