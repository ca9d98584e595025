import { createTestDatabase, databaseKinds, TestDatabase } from "./support/testDatabase";
import { openDatabase, Database } from "../src/persistence/database";
import { ModelReads } from "../src/services/modelReads";
import { CandidateService } from "../src/services/candidateService";
import { StructureCatalog } from "../src/services/structureCatalog";
import { prng } from "../src/core/testing/prng";

/**
 * Rows the database keeps by triggers: StructureModelCount (migration 0006), compared with plain
 * COUNTs over Model after every kind of write, and ModelScore.structureId (0007), with the
 * candidates built on both compared with answers computed here.
 */
describe.each(databaseKinds)("rows kept by triggers, and the candidates built on them (%s)", (kind) => {
  let target: TestDatabase;
  let database: Database;
  const tasks: string[] = [];
  const structures = ["s1", "s2", "s3", "s4"];

  beforeAll(async () => {
    target = await createTestDatabase(kind);
    database = await openDatabase(target.url);
    const prisma = database.prisma;
    for (const key of ["semantic", "panoptic"]) tasks.push((await prisma.task.create({ data: { key, name: key, kind: "SEMANTIC", primaryMetric: "MIOU" } })).id);
    for (const id of structures) {
      await prisma.structure.create({
        data: { id, hash: id, format: "safetensors", tensorCount: 1, parameterCount: 4n, parameterCountByDtype: { F32: 4 }, layerCount: 1, layerOrderSource: "STORAGE_ORDER", groups: [{ prefix: "backbone", tensorCount: 1, parameterCount: 4 }] },
      });
      await prisma.structureTensor.create({ data: { structureId: id, position: 0, name: "backbone.w", shape: "[4]", dtype: "F32", elements: 4n, layerIndex: 0, group: "backbone", mergeable: true } });
    }
    // s1–s2 overlap by 0.8 both ways, s1–s3 by 0.3; s4 overlaps nothing.
    for (const [a, b, f] of [["s1", "s2", 0.8], ["s1", "s3", 0.3]] as const) {
      await prisma.structureOverlap.create({ data: { structureAId: a, structureBId: b, sharedTensorCount: 1, sharedParameterCount: 4n, fractionOfA: f, fractionOfB: f, groups: [], mismatches: [] } });
    }
  });
  afterAll(async () => {
    await database.close();
    await target.cleanup();
  });

  /** The counts as the table has them and as counting the models gives them (zeros left out). */
  async function bothCounts() {
    const prisma = database.prisma;
    const kept = (await prisma.structureModelCount.findMany()).filter((c) => c.liveModels !== 0).map((c) => `${c.structureId}/${c.taskId}=${c.liveModels}`);
    const grouped = await prisma.model.groupBy({ by: ["structureId", "taskId"], where: { structureId: { not: null }, deletedAt: null }, _count: { _all: true } });
    const counted = grouped.map((g) => `${g.structureId}/${g.taskId}=${g._count._all}`);
    return { kept: kept.sort(), counted: counted.sort() };
  }

  test("every kind of write keeps them equal to a COUNT of the models", async () => {
    const prisma = database.prisma;
    const random = prng(11);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
    const maybeStructure = () => (random() < 0.15 ? null : pick(structures));
    let n = 0;
    await prisma.model.createMany({ data: Array.from({ length: 40 }, () => ({ name: `bulk-${n++}`, taskId: pick(tasks), structureId: maybeStructure() })) });
    expect((await bothCounts()).kept.length).toBeGreaterThan(0);
    for (let step = 0; step < 150; step++) {
      const ids = (await prisma.model.findMany({ select: { id: true } })).map((m) => m.id);
      const id = pick(ids);
      switch (Math.floor(random() * 8)) {
        case 0:
          await prisma.model.create({ data: { name: `m-${n++}`, taskId: pick(tasks), structureId: maybeStructure(), deletedAt: random() < 0.2 ? new Date() : null } });
          break;
        case 1: // soft delete, as deleteModel does
          await prisma.model.update({ where: { id }, data: { deletedAt: new Date() } });
          break;
        case 2: // restore
          await prisma.model.update({ where: { id }, data: { deletedAt: null } });
          break;
        case 3:
          await prisma.model.update({ where: { id }, data: { taskId: pick(tasks) } });
          break;
        case 4:
          await prisma.model.update({ where: { id }, data: { structureId: maybeStructure() } });
          break;
        case 5: // an update that touches none of the counted columns
          await prisma.model.update({ where: { id }, data: { description: `step ${step}` } });
          break;
        case 6:
          await prisma.model.delete({ where: { id } });
          break;
        default: // several rows in one statement
          await prisma.model.updateMany({ where: { structureId: pick(structures) }, data: { deletedAt: random() < 0.5 ? new Date() : null } });
      }
      if (step % 10 === 9) {
        const { kept, counted } = await bothCounts();
        expect(kept).toEqual(counted);
      }
    }
    const { kept, counted } = await bothCounts();
    expect(kept).toEqual(counted);
    await prisma.model.deleteMany({});
    expect((await bothCounts()).kept).toEqual([]);
  });

  test("candidates' totalCount equals counting the candidate models, with sameTask and a deleted anchor", async () => {
    const prisma = database.prisma;
    const random = prng(5);
    const rows = Array.from({ length: 120 }, (_, i) => ({ id: `c${String(i).padStart(3, "0")}`, name: `cand-${i}`, taskId: tasks[i % 2]!, structureId: structures[i % 4]!, deletedAt: random() < 0.2 ? new Date() : null }));
    await prisma.model.createMany({ data: rows });
    const service = new CandidateService(database.direct, new ModelReads(database.direct), new StructureCatalog(prisma));
    const brute = async (anchorId: string, min: number, sameTask: boolean) => {
      const anchor = rows.find((r) => r.id === anchorId)!;
      const overlapping = new Set([anchor.structureId]);
      for (const o of await prisma.structureOverlap.findMany()) {
        if (o.structureAId === anchor.structureId && o.fractionOfA >= min) overlapping.add(o.structureBId);
        if (o.structureBId === anchor.structureId && o.fractionOfB >= min) overlapping.add(o.structureAId);
      }
      const live = await prisma.model.findMany({ where: { deletedAt: null, id: { not: anchorId }, structureId: { in: [...overlapping] }, ...(sameTask ? { taskId: anchor.taskId } : {}) }, select: { id: true } });
      return live.length;
    };
    const deletedAnchor = rows.find((r) => r.deletedAt !== null && r.structureId === "s1")!;
    const liveAnchors = rows.filter((r) => r.deletedAt === null).slice(0, 6);
    let checked = 0;
    for (const anchor of [...liveAnchors, deletedAnchor]) {
      for (const min of [0.5, 0.2]) {
        for (const sameTask of [false, true]) {
          const result = await service.candidates({ anchorId: anchor.id, minSharedFraction: min, sameTask, first: 200 });
          const expected = await brute(anchor.id, min, sameTask);
          expect({ anchor: anchor.id, min, sameTask, totalCount: result.totalCount }).toEqual({ anchor: anchor.id, min, sameTask, totalCount: expected });
          expect(result.edges).toHaveLength(expected);
          checked += expected;
        }
      }
    }
    expect(checked).toBeGreaterThan(200);
  });

  test("score rows carry their model's structure, and scored candidates come in fraction, score, id order", async () => {
    const prisma = database.prisma;
    await prisma.model.deleteMany({});
    const dataset = await prisma.dataset.create({ data: { name: "cityscapes", taskId: tasks[0]!, format: "CITYSCAPES", location: "/data/cs", classes: [] } });
    const random = prng(23);
    const rows = Array.from({ length: 90 }, (_, i) => ({
      id: `k${String(i).padStart(3, "0")}`,
      name: `scored-${i}`,
      taskId: tasks[i % 2]!,
      structureId: structures[i % 3]!, // s1, s2, s3: 1, 0.8, 0.3 from s1
      targetDatasetId: dataset.id,
      deletedAt: random() < 0.1 ? new Date() : null,
    }));
    await prisma.model.createMany({ data: rows });
    // Scores for about two thirds, with ties (two decimals), written as the evaluation service
    // does (upsert) and by a raw INSERT: neither names the structure.
    const scores = new Map<string, number>();
    for (const [i, r] of rows.entries()) {
      if (random() < 0.35) continue;
      const score = Math.round(random() * 20) / 20;
      scores.set(r.id, score);
      const evaluation = await prisma.evaluation.create({ data: { modelId: r.id, datasetId: dataset.id, settingsHash: "h", canonical: true, score, metrics: {}, perClass: [] } });
      if (i % 2 === 0) await prisma.modelScore.upsert({ where: { modelId_datasetId: { modelId: r.id, datasetId: dataset.id } }, create: { modelId: r.id, datasetId: dataset.id, score, evaluationId: evaluation.id }, update: {} });
      else await prisma.$executeRaw`INSERT INTO "ModelScore" ("modelId", "datasetId", "score", "evaluationId", "updatedAt") VALUES (${r.id}, ${dataset.id}, ${score}, ${evaluation.id}, ${new Date()})`;
    }
    const stored = await prisma.modelScore.findMany();
    expect(stored).toHaveLength(scores.size);
    for (const row of stored) expect(row.structureId).toBe(rows.find((r) => r.id === row.modelId)!.structureId);
    // A model moved to another structure takes its score row along.
    const moved = stored[0]!.modelId;
    await prisma.model.update({ where: { id: moved }, data: { structureId: "s4" } });
    expect((await prisma.modelScore.findFirstOrThrow({ where: { modelId: moved } })).structureId).toBe("s4");
    await prisma.model.update({ where: { id: moved }, data: { structureId: rows.find((r) => r.id === moved)!.structureId } });

    const service = new CandidateService(database.direct, new ModelReads(database.direct), new StructureCatalog(prisma));
    const fraction: Record<string, number> = { s1: 1, s2: 0.8, s3: 0.3 };
    for (const anchor of rows.filter((r) => r.structureId === "s1" && r.deletedAt === null).slice(0, 3)) {
      for (const sameTask of [false, true]) {
        // By hand: live models of s1, s2 (and s3 at 0.2), fraction first, then scored before
        // unscored, score descending, id ascending.
        const expected = rows
          .filter((r) => r.id !== anchor.id && r.deletedAt === null && fraction[r.structureId]! >= 0.2 && (!sameTask || r.taskId === anchor.taskId))
          .sort((a, b) => fraction[b.structureId]! - fraction[a.structureId]! || (scores.get(b.id) ?? -1) - (scores.get(a.id) ?? -1) || (a.id < b.id ? -1 : 1))
          .map((r) => r.id);
        const seen: string[] = [];
        let after: string | null = null;
        for (let pages = 0; pages < 50; pages++) {
          const page: Awaited<ReturnType<CandidateService["candidates"]>> = await service.candidates({ anchorId: anchor.id, minSharedFraction: 0.2, sameTask, first: 7, after });
          expect(page.totalCount).toBe(expected.length);
          seen.push(...page.edges.map((e) => e.node.modelId));
          if (!page.pageInfo.hasNextPage) break;
          after = page.pageInfo.endCursor;
        }
        expect(seen).toEqual(expected);
      }
    }
  });
});
