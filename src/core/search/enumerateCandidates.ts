import { badInput } from "../errors";

/** A candidate's recipe: a single model (no contributors) or a merge as `startMerge` takes it. */
export interface SearchRecipe<Method, Schedule> {
  anchorId: string;
  contributorIds: string[];
  /** null for a single model. */
  method: Method | null;
  schedule: Schedule | null;
  /** Relative contributor weights, or null (equal shares). */
  weights: number[] | null;
  /** The method's parameters from a parameter grid, or null (its defaults). */
  params: Record<string, number> | null;
}

export interface SearchSpace<Method, Schedule> {
  /** The pool, in the order candidates are enumerated. */
  poolIds: readonly string[];
  anchorIds: readonly string[];
  maxModels: number;
  includeSingles: boolean;
  methods: readonly Method[];
  schedules: readonly Schedule[];
  /** Relative-weight grids; each applies to the candidates with as many contributors as it has entries. */
  weightGrids?: readonly (readonly number[])[] | null;
  /** Per method, the parameter values to try (each a point of its grid); a method without one runs with its defaults. */
  paramGrids?: ReadonlyArray<{ readonly method: Method; readonly points: readonly Readonly<Record<string, number>>[] }> | null;
}

export interface EnumeratedCandidate<Method, Schedule> {
  key: string;
  recipe: SearchRecipe<Method, Schedule>;
}

export interface CandidatePlan<Method, Schedule> {
  candidates: EnumeratedCandidate<Method, Schedule>[];
  /** Distinct candidates beyond the budget existed and were left out. */
  truncated: boolean;
  /** Recipes enumerated that repeated an earlier candidate (same key). */
  duplicates: number;
}

/**
 * The GRID plan: singles first (pool order), then pairs, then triples… up to maxModels, each
 * model set in pool order (combinations), each anchor of the set that may anchor (set order),
 * contributors in pool order, then every method × parameter point × schedule × weight grid. A recipe whose key
 * (`keyOf`, see candidateKey) repeats an earlier one is dropped; the plan is cut at
 * `maxCandidates`, with `truncated` when a further distinct candidate exists.
 */
export function enumerateCandidates<M, S>(space: SearchSpace<M, S>, maxCandidates: number, keyOf: (recipe: SearchRecipe<M, S>) => string): CandidatePlan<M, S> {
  const cut = candidateCutter<M, S>(maxCandidates);
  for (const recipe of recipesInPlanOrder(space)) if (!cut.offer(recipe, keyOf(recipe))) break;
  return cut.plan();
}

/**
 * enumerateCandidates with an asynchronous `keyOf` (recipes planned from stored structures):
 * recipes are keyed one by one in plan order and only until the budget is full and one more
 * distinct candidate proved the plan truncated, so the work follows the budget, not the space.
 */
export async function enumerateCandidatesAsync<M, S>(space: SearchSpace<M, S>, maxCandidates: number, keyOf: (recipe: SearchRecipe<M, S>) => Promise<string>): Promise<CandidatePlan<M, S>> {
  const cut = candidateCutter<M, S>(maxCandidates);
  for (const recipe of recipesInPlanOrder(space)) if (!cut.offer(recipe, await keyOf(recipe))) break;
  return cut.plan();
}

function candidateCutter<M, S>(maxCandidates: number) {
  if (!Number.isInteger(maxCandidates) || maxCandidates < 1) throw badInput(`budget.maxCandidates must be a positive integer, got ${maxCandidates}`, "input.budget.maxCandidates");
  const seen = new Set<string>();
  const candidates: EnumeratedCandidate<M, S>[] = [];
  let duplicates = 0;
  let truncated = false;
  return {
    /** Returns false once the budget is full and one more distinct candidate has been seen. */
    offer(recipe: SearchRecipe<M, S>, key: string): boolean {
      if (seen.has(key)) {
        duplicates++;
        return true;
      }
      if (candidates.length >= maxCandidates) {
        truncated = true;
        return false;
      }
      seen.add(key);
      candidates.push({ key, recipe });
      return true;
    },
    plan: (): CandidatePlan<M, S> => ({ candidates, truncated, duplicates }),
  };
}

/** Every recipe of the space in plan order (see enumerateCandidates), repeats included. */
export function* recipesInPlanOrder<M, S>(space: SearchSpace<M, S>): Generator<SearchRecipe<M, S>> {
  const anchors = new Set(space.anchorIds);
  const pointsOf = (method: M): ReadonlyArray<Readonly<Record<string, number>> | null> => space.paramGrids?.find((g) => g.method === method)?.points ?? [null];
  if (space.includeSingles) {
    for (const id of space.poolIds) yield { anchorId: id, contributorIds: [], method: null, schedule: null, weights: null, params: null };
  }
  for (let size = 2; size <= space.maxModels; size++) {
    for (const set of combinations(space.poolIds, size)) {
      for (const anchorId of set) {
        if (!anchors.has(anchorId)) continue;
        const contributorIds = set.filter((id) => id !== anchorId);
        const grids = [null, ...(space.weightGrids ?? []).filter((g) => g.length === contributorIds.length)];
        for (const method of space.methods)
          for (const params of pointsOf(method))
            for (const schedule of space.schedules)
              for (const grid of grids) yield { anchorId, contributorIds, method, schedule, weights: grid ? [...grid] : null, params: params ? { ...params } : null };
      }
    }
  }
}

/** k-subsets of `items` in lexicographic order of positions, each in item order. */
export function* combinations<T>(items: readonly T[], k: number): Generator<T[]> {
  const idx = Array.from({ length: k }, (_, i) => i);
  if (k > items.length) return;
  for (;;) {
    yield idx.map((i) => items[i]);
    let i = k - 1;
    while (i >= 0 && idx[i] === items.length - k + i) i--;
    if (i < 0) return;
    idx[i]++;
    for (let j = i + 1; j < k; j++) idx[j] = idx[j - 1] + 1;
  }
}
