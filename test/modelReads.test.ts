import { createTestDatabase, databaseKinds, TestDatabase } from "./support/testDatabase";
import { openDatabase, Database } from "../src/persistence/database";
import { ModelReads } from "../src/services/modelReads";

/**
 * The direct reads a dashboard page makes must return exactly what Prisma returns for the same
 * rows (Prisma is the independent reference here): every column, timestamps as Dates, JSON
 * parsed, the same order, the same page boundaries.
 */
describe.each(databaseKinds)("direct reads of models and their relations (%s)", (kind) => {
  let target: TestDatabase;
  let database: Database;
  let reads: ModelReads;
  const ids: string[] = [];
  let datasetId: string;
  let taskId: string;
  let backboneId: string;

  beforeAll(async () => {
    target = await createTestDatabase(kind);
    database = await openDatabase(target.url);
    reads = new ModelReads(database.direct);
    const p = database.prisma;
    const task = await p.task.create({ data: { key: "semantic", name: "Semantic", kind: "SEMANTIC", primaryMetric: "MIOU" } });
    taskId = task.id;
    backboneId = (await p.backbone.create({ data: { name: "MiT-B5", family: "mit", parameterPrefix: "backbone." } })).id;
    await p.backbone.create({ data: { name: "bare" } });
    datasetId = (await p.dataset.create({ data: { name: "cs", taskId, format: "CITYSCAPES", location: "/data/cs", classes: [] } as never })).id;
    // Names that sort differently by byte and by case, equal names in two versions, a deleted
    // model, every optional column both set and empty.
    const names = ["b", "B", "a", "a", "ü", "c", "d-deleted", "e"];
    for (let i = 0; i < names.length; i++) {
      const m = await p.model.create({
        data: {
          name: names[i]!,
          version: String(i),
          taskId,
          description: i % 2 ? `described "${i}"` : null,
          backboneId: i % 3 ? backboneId : null,
          architecture: i % 2 ? "SegFormer" : null,
          udaStrategy: i === 1 ? "DAFormer" : null,
          inference: i % 2 ? { input: "x", size: [512, 1024], normalize: { mean: [1.5, 2], convention: "DIVIDE" } } : undefined,
          deletedAt: names[i]!.endsWith("deleted") ? new Date("2026-01-02T03:04:05.678Z") : null,
          createdAt: new Date(Date.UTC(2026, 0, 1 + (i % 4), 0, 0, 0, i)),
          tags: { create: i % 2 ? [{ tag: "uda" }, { tag: "a-first" }] : [] },
        },
      });
      ids.push(m.id);
      if (i % 3 !== 2) {
        const evaluation = await p.evaluation.create({ data: { modelId: m.id, datasetId, settingsHash: "h", metrics: {}, perClass: [], score: i / 7 } as never });
        await p.modelScore.create({ data: { modelId: m.id, datasetId, score: i / 7, evaluationId: evaluation.id } });
      }
    }
    for (let i = 1; i < ids.length; i++) await p.lineageEdge.create({ data: { parentId: ids[i - 1]!, childId: ids[i]!, relation: "CHECKPOINT_OF", weight: i % 2 ? 0.25 * i : null } });
    await p.lineageEdge.create({ data: { parentId: ids[0]!, childId: ids[5]!, relation: "MERGED_FROM", weight: 0.125 } });
  });
  afterAll(async () => {
    await database.close();
    await target.cleanup();
  });

  test("models, tasks and backbones by id are Prisma's rows", async () => {
    const wanted = [ids[3]!, ids[0]!, ids[6]!, "no-such-id", ids[1]!];
    const byId = <T extends { id: string }>(rows: T[]) => [...rows].sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(byId(await reads.models(wanted))).toEqual(byId(await database.prisma.model.findMany({ where: { id: { in: wanted } } })));
    expect(await reads.tasks([taskId, "nope"])).toEqual(await database.prisma.task.findMany());
    expect(byId(await reads.backbones([backboneId]))).toEqual(await database.prisma.backbone.findMany({ where: { id: backboneId } }));
    const bare = await database.prisma.backbone.findFirstOrThrow({ where: { name: "bare" } });
    expect(await reads.backbones([bare.id])).toEqual([bare]);
  });

  test("pages in every order, after every cursor, with and without deleted models, match Prisma's", async () => {
    for (const field of ["name", "createdAt"] as const) {
      for (const direction of ["asc", "desc"] as const) {
        for (const includeDeleted of [false, true]) {
          const where = includeDeleted ? {} : { deletedAt: null };
          const all = await database.prisma.model.findMany({ where, orderBy: [{ [field]: direction }, { id: direction }] });
          expect(all.length).toBe(includeDeleted ? 8 : 7);
          // From the start, and after each row (its cursor value as the API encodes it).
          for (let start = -1; start < all.length; start++) {
            const after = start < 0 ? null : { value: field === "name" ? all[start]!.name : all[start]!.createdAt.toISOString(), id: all[start]!.id };
            const rows = await reads.page({ field, direction, after, take: 3, includeDeleted });
            expect({ field, direction, includeDeleted, start, rows }).toEqual({ field, direction, includeDeleted, start, rows: all.slice(start + 1, start + 4) });
          }
          expect(await reads.count(includeDeleted)).toBe(all.length);
        }
      }
    }
  });

  test("edges, tags and scores of a set of models match Prisma's, in Prisma's order", async () => {
    const some = [ids[5]!, ids[1]!, ids[0]!, ids[7]!];
    const order = [{ createdAt: "asc" as const }, { id: "asc" as const }];
    expect(await reads.edges("childId", some)).toEqual(await database.prisma.lineageEdge.findMany({ where: { childId: { in: some } }, orderBy: order }));
    expect(await reads.edges("parentId", some)).toEqual(await database.prisma.lineageEdge.findMany({ where: { parentId: { in: some } }, orderBy: order }));
    const tags = await reads.tags(some);
    expect(tags).toEqual((await database.prisma.modelTag.findMany({ where: { modelId: { in: some } }, orderBy: { tag: "asc" } })).map(({ modelId, tag }) => ({ modelId, tag })));
    expect(tags.filter((t) => t.modelId === ids[1]).map((t) => t.tag)).toEqual(["a-first", "uda"]);
    const scores = await reads.scores(datasetId, [...some, ids[2]!]);
    const expected = await database.prisma.modelScore.findMany({ where: { datasetId, modelId: { in: [...some, ids[2]!] } } });
    const sorted = <T extends { modelId: string }>(rows: T[]) => [...rows].sort((a, b) => (a.modelId < b.modelId ? -1 : 1));
    expect(sorted(scores)).toEqual(sorted(expected.map(({ modelId, score }) => ({ modelId, score }))));
    expect(scores.find((s) => s.modelId === ids[1])?.score).toBeCloseTo(1 / 7, 12);
    expect(scores.some((s) => s.modelId === ids[5])).toBe(false);
    expect(scores.some((s) => s.modelId === ids[2])).toBe(false); // never scored
  });

  test("leaderboard pages after every cursor are Prisma's ranking of live models' scores", async () => {
    const all = await database.prisma.modelScore.findMany({ where: { datasetId, model: { deletedAt: null } }, orderBy: [{ score: "desc" }, { modelId: "asc" }] });
    expect(all.length).toBeGreaterThan(3);
    for (let start = -1; start < all.length; start++) {
      const after = start < 0 ? null : { score: all[start]!.score, modelId: all[start]!.modelId };
      const board = await reads.leaderboard(datasetId, after, 2);
      expect(board.rows).toEqual(all.slice(start + 1, start + 3).map(({ modelId, score, evaluationId }) => ({ modelId, datasetId, score, evaluationId })));
      expect(board.rankBase).toBe(start + 1);
    }
    expect(await reads.leaderboardCount(datasetId)).toBe(all.length);
    expect(await reads.datasetExists(datasetId)).toBe(true);
    expect(await reads.datasetExists("no-such-dataset")).toBe(false);
  });

  test("a page past the end is empty; the count does not depend on the page", async () => {
    const last = await database.prisma.model.findFirstOrThrow({ where: { deletedAt: null }, orderBy: [{ name: "desc" }, { id: "desc" }] });
    expect(await reads.page({ field: "name", direction: "asc", after: { value: last.name, id: last.id }, take: 5, includeDeleted: false })).toEqual([]);
    expect(await reads.count(false)).toBe(await database.prisma.model.count({ where: { deletedAt: null } }));
  });
});
