import { groupHashes, structureHash, type HashedTensor } from "./structureHash";
import type { DType, TensorInfo } from "./types";

export type SummarizedTensor = HashedTensor & Pick<TensorInfo, "elements">;

export interface DtypeSummary {
  dtype: DType;
  tensorCount: number;
  /** Every element of this dtype, parameters or not. */
  elementCount: number;
  /** Elements of mergeable tensors only. */
  parameterCount: number;
}

export interface GroupSummary {
  prefix: string;
  tensorCount: number;
  /** Elements of the group's mergeable tensors (integer and quantized tensors do not count). */
  parameterCount: number;
  /** See `groupHashes`: equal for the same group under different heads. */
  hash: string;
}

export interface StructureSummary {
  hash: string;
  /** Every listed tensor, integer and quantized ones included. */
  tensorCount: number;
  /** The mergeable tensors among them (those whose elements parameterCount counts). */
  mergeableTensorCount: number;
  /** Elements of mergeable tensors. */
  parameterCount: number;
  layerCount: number;
  /** In order of first appearance. */
  dtypes: DtypeSummary[];
  /** In order of first appearance. */
  groups: GroupSummary[];
}

/**
 * What `Model.structure` shows: counts by dtype and by group, L, and the hashes
 * that deduplicate structures.
 */
export function summarizeStructure(model: { tensors: readonly SummarizedTensor[]; layerCount?: number }): StructureSummary {
  const { tensors } = model;
  const layerCount = model.layerCount ?? tensors.reduce((max, t) => Math.max(max, t.layerIndex + 1), 0);
  const dtypes = new Map<DType, DtypeSummary>();
  const groups = new Map<string, Omit<GroupSummary, "hash">>();
  let parameterCount = 0;
  let mergeableTensorCount = 0;
  for (const t of tensors) {
    if (t.mergeable) mergeableTensorCount++;
    const parameters = t.mergeable ? t.elements : 0;
    parameterCount += parameters;
    let d = dtypes.get(t.dtype);
    if (d === undefined) dtypes.set(t.dtype, d = { dtype: t.dtype, tensorCount: 0, elementCount: 0, parameterCount: 0 });
    d.tensorCount++;
    d.elementCount += t.elements;
    d.parameterCount += parameters;
    let g = groups.get(t.group);
    if (g === undefined) groups.set(t.group, g = { prefix: t.group, tensorCount: 0, parameterCount: 0 });
    g.tensorCount++;
    g.parameterCount += parameters;
  }
  const hashes = new Map(groupHashes(tensors).map((g) => [g.prefix, g.hash]));
  return {
    hash: structureHash(tensors, layerCount),
    tensorCount: tensors.length,
    mergeableTensorCount,
    parameterCount,
    layerCount,
    dtypes: [...dtypes.values()],
    groups: [...groups.values()].map((g) => ({ ...g, hash: hashes.get(g.prefix)! })),
  };
}
