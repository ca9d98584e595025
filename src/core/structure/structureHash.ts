import { createHash } from "node:crypto";
import type { ParsedModel, TensorInfo } from "./types";

export type HashedTensor = Pick<TensorInfo, "name" | "shape" | "dtype" | "mergeable" | "layerIndex" | "group">;
export type GroupHashedTensor = Pick<TensorInfo, "name" | "shape" | "dtype" | "mergeable" | "group">;

/** Bumped whenever the encoding below changes, so old and new hashes never collide. */
const STRUCTURE_VERSION = "layermerge.structure.v1";
const GROUP_VERSION = "layermerge.group.v1";

/**
 * The identity of a parameter structure: sha256 over every tensor's (name, shape, dtype,
 * mergeable, layerIndex, group) and the layer count L (which the merge schedule divides by).
 *
 * Tensors are hashed in (layerIndex, name) order rather than file order: the order of tensors
 * *within* a layer carries no structure (a writer may store a bias before its weight), and
 * models that differ only in it must share one `Structure` row.
 *
 * @param layerCount L; defaults to the highest layer index + 1, which is L whenever every layer
 *   holds a listed tensor (always for safetensors). Pass `ParsedModel.layerCount` when you have it.
 */
export function structureHash(tensors: readonly HashedTensor[], layerCount?: number): string {
  const L = layerCount ?? tensors.reduce((max, t) => Math.max(max, t.layerIndex + 1), 0);
  const hash = createHash("sha256").update(`${STRUCTURE_VERSION}\nL=${L}\n`);
  const ordered = [...tensors].sort((a, b) => a.layerIndex - b.layerIndex || byName(a, b));
  // One update with the whole text: hundreds of small updates cost more than the hashing.
  hash.update(ordered.map((t) => `[${tensorFields(t)},${t.layerIndex},${JSON.stringify(t.group)}]\n`).join(""));
  return hash.digest("hex");
}

export interface GroupHash {
  prefix: string;
  hash: string;
}

/**
 * One hash per group over its tensors' (name, shape, dtype, mergeable), sorted by name. Layer
 * indices are left out on purpose: the same backbone under two different heads must hash equal
 * so that "these models share a backbone" is an equality test (and `computeOverlap` can take a
 * whole group as shared without visiting its tensors). Groups are listed in order of first
 * appearance.
 */
export function groupHashes(tensors: readonly GroupHashedTensor[]): GroupHash[] {
  const byGroup = new Map<string, GroupHashedTensor[]>();
  for (const t of tensors) {
    const list = byGroup.get(t.group);
    if (list === undefined) byGroup.set(t.group, [t]);
    else list.push(t);
  }
  return [...byGroup].map(([prefix, members]) => ({ prefix, hash: groupHash(prefix, members) }));
}

export function groupHash(prefix: string, members: readonly GroupHashedTensor[]): string {
  const hash = createHash("sha256").update(`${GROUP_VERSION}\n${JSON.stringify(prefix)}\n`);
  hash.update([...members].sort(byName).map((t) => `[${tensorFields(t)}]\n`).join(""));
  return hash.digest("hex");
}

/**
 * `JSON.stringify([name, shape, dtype, mergeable])` without its brackets, spelled out because the
 * generic stringify is most of the cost of indexing a structure (shape entries and the dtype are
 * plain integers and identifiers, so the output is the same).
 */
function tensorFields(t: GroupHashedTensor): string {
  return `${JSON.stringify(t.name)},[${t.shape.join(",")}],"${t.dtype}",${t.mergeable}`;
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * The key a `Structure` row is stored under: the structure hash together with the format, where
 * the layer order came from (the same tensors ordered another way are another structure) and the
 * tensors' positional keys (name = key, sorted), when the format has them.
 */
export function structureKey(parsed: Pick<ParsedModel, "tensors" | "layerCount" | "format" | "layerOrderSource">): string {
  const fields: unknown[] = [structureHash(parsed.tensors, parsed.layerCount), parsed.format, parsed.layerOrderSource];
  // Graphs with the same tensors wired differently (another stride upstream) are other structures
  // for positional matching. Structures without positional keys keep the key they always had.
  if (parsed.tensors.some((t) => t.positionKey !== undefined)) {
    const pairs = parsed.tensors.map((t) => `${JSON.stringify(t.name)}=${t.positionKey ?? ""}\n`).sort();
    fields.push(createHash("sha256").update(pairs.join("")).digest("hex"));
  }
  return createHash("sha256").update(JSON.stringify(fields)).digest("hex");
}
