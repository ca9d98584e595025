import type { Db } from "../persistence/database";
import { scheduleFor, scheduleValue, type MergeSchedule } from "../core/merge";
import { clipUnit, CmaEs, cmaPopulationSize } from "../core/search";
import type { StructureCatalog } from "./structureCatalog";
import type { CandidateRecipe, MergeSearchSettings } from "./mergeSearchPlanner";

/** Knots per parameter group that CMA-ES tunes (s at t = 0, ¼, ½, ¾, 1). */
export const KNOTS_PER_GROUP = 5;

interface EvolveOptions {
  db: Db;
  catalog: StructureCatalog;
  searchId: string;
  settings: MergeSearchSettings;
  keyOf(recipe: CandidateRecipe): Promise<string>;
  /** Scores the candidates not scored yet (rows are unique on key); resolves once every one has its row. */
  score(items: Array<{ key: string; recipe: CandidateRecipe; position: number }>): Promise<void>;
  outOfTime(): boolean;
}

/**
 * EVOLUTION: CMA-ES (seeded with the objective's seed; population 4 + ⌊3 ln n⌋, σ₀ 0.2) over the
 * CUSTOM knots of every parameter group — a group is the first name component of the anchor's
 * tensors ("backbone.", "decode_head.") — starting from the best grid merge's schedule. Each point
 * is a recipe with `schedule.groups`, so every candidate is a startMerge input. Generations are
 * scored one after another (the points of one side by side, over every process taking part: the
 * next generation is asked for only once `score` has every point of this one) and only whole
 * generations within the budget run, so a seed reproduces the run whatever the number of workers; a point equal to an earlier candidate (same key)
 * takes its stored objective.
 */
export async function evolveSchedules(o: EvolveOptions): Promise<void> {
  const { db, settings, searchId } = o;
  const rows = await db.mergeSearchCandidate.findMany({ where: { searchId, objective: { not: null } }, orderBy: [{ objective: "desc" }, { position: "asc" }], select: { recipe: true } });
  const best = rows.map((r) => r.recipe as unknown as CandidateRecipe).find((r) => r.modelIds.length > 0);
  if (!best) return;
  const anchor = await db.model.findUniqueOrThrow({ where: { id: best.anchorId }, select: { structureId: true } });
  const structure = await o.catalog.planModel(anchor.structureId!);
  const prefixes = [...new Set(structure.tensors.map((t) => (t.name.includes(".") ? `${t.name.split(".")[0]}.` : t.name)))];
  const start = prefixes.flatMap((p) => Array.from({ length: KNOTS_PER_GROUP }, (_, k) => scheduleValue(scheduleFor(best.schedule!, p), k / (KNOTS_PER_GROUP - 1))));
  const es = new CmaEs(start, { seed: BigInt(settings.objective.seed) });
  const lambda = cmaPopulationSize(start.length);
  let position = settings.plan.length;
  for (let left = settings.evolutionBudget; left >= lambda && !o.outOfTime(); left -= lambda) {
    const points = es.ask();
    const items = [];
    for (const point of points) {
      const x = clipUnit(point);
      const schedule: MergeSchedule = { ...(best.schedule as MergeSchedule), groups: prefixes.map((prefix, g) => ({ prefix, knots: x.slice(g * KNOTS_PER_GROUP, (g + 1) * KNOTS_PER_GROUP) })) };
      const recipe: CandidateRecipe = { ...best, schedule };
      items.push({ key: await o.keyOf(recipe), recipe, position: position++ });
    }
    await o.score(items);
    if (o.outOfTime()) return;
    const scored = await db.mergeSearchCandidate.findMany({ where: { searchId, key: { in: items.map((i) => i.key) } }, select: { key: true, objective: true } });
    const objective = new Map(scored.map((r) => [r.key, r.objective]));
    es.tell(points, items.map((i) => objective.get(i.key) ?? -Infinity));
  }
}
