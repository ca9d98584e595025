import { groupHash } from "./structureHash";
import { shapeKey } from "./tensorSignature";
import { isParameter } from "./sharedTensor";
import type { TensorInfo } from "./types";

export type OverlapTensor = Pick<TensorInfo, "name" | "shape" | "dtype" | "mergeable" | "group" | "elements"> & {
  positionKey?: string | null;
  /** Used, when given, to find the first layer's positional keys (see `rootKeys`). */
  layerIndex?: number;
};

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
  positionKey?: string;
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
  /** Tensors by positional key (those that have one). */
  byPosition: ReadonlyMap<string, IndexedTensor>;
  /**
   * The positional keys of the first layer holding keyed tensors (all keys when layers are not
   * known). Every positional key descends from the graph's inputs through a first operator with
   * weights, so two structures sharing any key share one of these, unless the shared part starts
   * at a weight-holding operator that is first in neither (two stems): positional overlap is not
   * looked for without it.
   */
  rootKeys: readonly string[];
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
  const byPosition = new Map<string, IndexedTensor>();
  let firstLayer = Infinity;
  let parameterElements = 0;
  for (const t of structure.tensors) {
    const parameter = isParameter(t);
    const entry: IndexedTensor = {
      name: t.name, shape: t.shape, shapeKey: shapeKey(t.shape), dtype: t.dtype, mergeable: t.mergeable, parameter, elements: t.elements, group: t.group,
    };
    byName.set(t.name, entry);
    tensors.push(entry);
    if (t.positionKey != null) {
      entry.positionKey = t.positionKey;
      byPosition.set(t.positionKey, entry);
      firstLayer = Math.min(firstLayer, t.layerIndex ?? -Infinity);
    }
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
  const rootKeys = structure.tensors.filter((t) => t.positionKey != null && (t.layerIndex ?? -Infinity) === firstLayer).map((t) => t.positionKey!);
  return { byName, groups, tensors, parameterElements, byPosition, rootKeys };
}
