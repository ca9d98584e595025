import { createHash } from "node:crypto";
import type { MergeRecipe } from "../jobs/jobPayloads";

/** A recipe's identity: equal hashes are the same merge, so asking again returns the existing one. */
export function hashRecipe(recipe: MergeRecipe): string {
  const fields: unknown[] = ["layermerge-merge-v2", recipe.method, recipe.schedule, sortKeys(recipe.params), recipe.weights, recipe.artifacts, recipe.anchorStructureId];
  // Matched by name, a recipe hashes as before positional matching existed (so it finds its twin).
  if (recipe.matching === "POSITION") fields.push("matching=POSITION");
  return createHash("sha256").update(JSON.stringify(fields)).digest("hex");
}

function sortKeys(o: Record<string, number>): Array<[string, number]> {
  return Object.keys(o).sort().map((k) => [k, o[k]]);
}

/** What the merged file records about itself (deterministic: no ids, no timestamps). */
export function mergeMetadata(recipe: MergeRecipe): Record<string, string> {
  return {
    "layermerge.method": recipe.method,
    "layermerge.schedule": JSON.stringify(recipe.schedule),
    "layermerge.params": JSON.stringify(sortKeys(recipe.params)),
    "layermerge.weights": JSON.stringify(recipe.weights),
    ...(recipe.matching ? { "layermerge.matching": recipe.matching } : {}),
    "layermerge.anchor_sha256": recipe.artifacts.anchor,
    "layermerge.parents_sha256": JSON.stringify(recipe.artifacts.contributors),
    ...(recipe.artifacts.base ? { "layermerge.base_sha256": recipe.artifacts.base } : {}),
  };
}
