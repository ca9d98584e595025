import type { ComplexityEstimatorArgs } from "graphql-query-complexity";
import { DEFAULT_LINEAGE_DEPTH } from "../services/lineageService";

/**
 * Fields whose work does not show in the objects they return, in the same unit as the rest of
 * the cost model ("objects fetched": one object of a page costs about 45 µs on the API process of
 * a 2-core machine, so the default budget of 5,000 is about a quarter second of work).
 *
 * Measured on SQLite with structures of 1,000 tensors:
 * - mergePlan plans every tensor of every input on the event loop (~7 ms per input model of
 *   1,000 tensors) → 150 per input; its `tensors` and `layers` lists hold one entry per tensor
 *   or layer of the anchor, unpaged (for 2,000 tensors each list doubled the time of the plan
 *   itself) → 500 each;
 * - mergeCandidates runs its indexed lookup and loads the overlaps even for `totalCount` alone
 *   (~2 ms) → 50, plus its page;
 * - compareStructures reads both structures' tensors and compares them by name (~1 ms for
 *   1,000 + 1,000) → 50;
 * - lineage walks one hop per query round trip → 10 per hop of `depth`;
 * - a structure's tensor page reads its rows (~80 µs per tensor) → the page, counted by
 *   DEFAULT_PAGE_SIZES when `first` is absent, plus 5 for the lookup;
 * - a merge's recipeYaml is written on the thread pool (~3 ms for 3 models × 300 layers, on a
 *   loaded 2-core machine), its inputs read through the batch loaders → 10 per merge.
 */
export const FIELD_BASE_COSTS: Record<string, (args: Record<string, any>) => number> = {
  "Query.mergePlan": (args) => 150 * mergeInputCount(args.input),
  "MergePlan.tensors": () => 500,
  "MergePlan.layers": () => 500,
  "Query.mergeCandidates": () => 50,
  "Query.compareStructures": () => 50,
  "Query.lineage": (args) => 10 * Math.max(1, typeof args.depth === "number" ? args.depth : DEFAULT_LINEAGE_DEPTH),
  "Structure.tensors": () => 5,
  "Merge.recipeYaml": () => 10,
};

/** Page sizes of the connections whose default is not the common one (services/pagination). */
export const DEFAULT_PAGE_SIZES: Record<string, number> = {
  "Structure.tensors": 100,
  "Query.mergeCandidates": 20,
};

/**
 * However cheap each is, one operation may name expensive fields at most this many times
 * (aliases and fragment spreads included): a dashboard needs a handful, and the cap bounds the
 * work an operator's raised complexity limit lets through.
 */
export const MAX_EXPENSIVE_FIELDS = 10;

function mergeInputCount(input: unknown): number {
  const request = (input ?? {}) as { modelIds?: unknown; baseModelId?: unknown };
  const contributors = Array.isArray(request.modelIds) ? request.modelIds.length : 1;
  return 1 + Math.max(contributors, 1) + (request.baseModelId ? 1 : 0);
}

export function fieldKey({ type, field }: Pick<ComplexityEstimatorArgs, "type" | "field">): string {
  return `${type.name}.${field.name}`;
}
