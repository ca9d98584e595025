/**
 * `--reuse URL`: bench:candidates against a registry an earlier run seeded and kept (`--keep`),
 * so that a change to the query plans can be measured at a million models without the ~10
 * minutes of seeding each time. The seeded registry is recognised rather than trusted: every
 * structure is found by the key registration would give its file, and the live models per
 * structure must be the Zipf counts of the same --models, --structures and --seed. What an
 * earlier run's registrations added (models named bench-known-…, bench-new-…, bench-warmup-…,
 * their artifacts, and the structures they created) is deleted first, so each run starts from
 * the seeded state.
 */
import { structureKey } from "../src/core/structure/structureHash";
import type { startApp } from "../src/main";
import { fileFor, parse } from "./candidateFamilies";
import { seededModels, settle, structureSpecs, zipf, type Seeded, type SeedOptions } from "./candidatesSeed";

type App = Awaited<ReturnType<typeof startApp>>;

/** Names the measurements give the models they register (candidatesMeasure). */
export const REGISTERED_PREFIXES = ["bench-known-", "bench-new-", "bench-warmup-"];

export async function reuse(app: App, options: SeedOptions, log: (m: string) => void): Promise<Seeded> {
  const db = app.services.database.prisma;
  const task = await db.task.findUnique({ where: { key: "semantic" } });
  const dataset = await db.dataset.findFirst({ where: { name: "cityscapes", split: "val" } });
  if (!task || !dataset) throw new Error("--reuse: this database holds no bench:candidates registry (no semantic task or cityscapes dataset)");

  const specs = structureSpecs(options.structures);
  const keys = specs.map((s) => structureKey(parse(fileFor(s, 0))));
  const found = new Map<string, string>();
  for (let i = 0; i < keys.length; i += 500) {
    for (const r of await db.structure.findMany({ where: { hash: { in: keys.slice(i, i + 500) } }, select: { id: true, hash: true } })) found.set(r.hash, r.id);
  }
  const structureIds = keys.map((k, s) => {
    const id = found.get(k);
    if (!id) throw new Error(`--reuse: structure ${s} of ${options.structures} is not in this database (seeded with other --structures?)`);
    return id;
  });

  // Back to the seeded state: an earlier run's registrations out.
  const registered = { OR: REGISTERED_PREFIXES.map((prefix) => ({ name: { startsWith: prefix } })) };
  const artifacts = (await db.model.findMany({ where: registered, select: { artifactId: true } })).flatMap((m) => (m.artifactId ? [m.artifactId] : []));
  const models = await db.model.deleteMany({ where: registered });
  for (let i = 0; i < artifacts.length; i += 500) await db.artifact.deleteMany({ where: { id: { in: artifacts.slice(i, i + 500) }, models: { none: {} } } });
  const structures = await db.structure.deleteMany({ where: { id: { notIn: structureIds } } });
  await db.structureModelCount.deleteMany({ where: { structureId: { notIn: structureIds } } });
  log(`reused the seeded registry: deleted ${models.count} models, ${artifacts.length} artifacts and ${structures.count} structures an earlier run registered`);

  const modelsPerStructure = zipf(structureIds.length, options.models, options.seed);
  const counts = new Map((await db.structureModelCount.findMany({ where: { taskId: task.id } })).map((c) => [c.structureId, c.liveModels]));
  structureIds.forEach((id, s) => {
    if ((counts.get(id) ?? 0) !== modelsPerStructure[s]) throw new Error(`--reuse: structure ${s} holds ${counts.get(id) ?? 0} live models, the seed gives it ${modelsPerStructure[s]} (other --models or --seed?)`);
  });
  const { modelIds, targeted } = seededModels(modelsPerStructure);
  const t0 = Date.now();
  await settle(app);
  log(`settled (VACUUM ANALYZE / CHECKPOINT) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return {
    taskId: task.id,
    datasetId: dataset.id,
    structureIds,
    specs,
    tensorCounts: specs.map((s) => s.length),
    modelIds,
    targeted,
    scoredModels: await db.modelScore.count(),
    lineageEdges: await db.lineageEdge.count(),
    modelsPerStructure,
    overlapRows: await db.structureOverlap.count(),
    seedStructuresMs: NaN,
    seedModelsMs: NaN,
    loadDetailMs: { settle: Date.now() - t0 },
    modelsVia: "reused: seeded and kept by an earlier run (--reuse)",
  };
}
