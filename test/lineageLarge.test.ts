import { databaseKinds } from "./support/testDatabase";
import { openedDatabase } from "./support/openedDatabase";
import { joinSql, sql } from "../src/persistence/directSql";
import { LineageService } from "../src/services/lineageService";
import { ModelReads } from "../src/services/modelReads";
import { LineageDirection } from "../src/domain/enums";

/*
 * A base model with many descendants (a hub's popular base has tens of thousands): its lineage
 * names more models than one statement takes parameters (SQLite 32,766, PostgreSQL 65,535), and
 * must still come back whole, its edges in creation order.
 */
describe.each(databaseKinds)("the lineage of a model with 20,000 children (%s)", (kind) => {
  const CHILDREN = 20_000;
  const opened = openedDatabase(kind);

  beforeAll(async () => {
    const database = opened();
    const task = await database.prisma.task.create({ data: { key: "seg", name: "Segmentation", kind: "SEMANTIC", primaryMetric: "MIOU" } });
    const now = Date.now();
    const models = [{ id: "grandparent", name: "grandparent" }, { id: "root", name: "root" }, ...Array.from({ length: CHILDREN }, (_, i) => ({ id: `child-${String(i).padStart(5, "0")}`, name: `child-${i}` }))];
    for (let i = 0; i < models.length; i += 1000) {
      const rows = models.slice(i, i + 1000).map((m) => sql`(${m.id}, ${m.name}, ${"1"}, ${task.id}, ${"TRAINED"}, ${new Date(now)}, ${new Date(now)})`);
      await database.direct.execute(sql`INSERT INTO "Model" ("id", "name", "version", "taskId", "origin", "createdAt", "updatedAt") VALUES ${joinSql(rows, ", ")}`);
    }
    // Edges created a millisecond apart, in reverse id order, so creation order is not id order.
    const edges = [{ id: "e-up", parentId: "grandparent", childId: "root", at: now }, ...Array.from({ length: CHILDREN }, (_, i) => ({ id: `e-${String(CHILDREN - i).padStart(5, "0")}`, parentId: "root", childId: `child-${String(i).padStart(5, "0")}`, at: now + 1 + Math.floor(i / 3) }))];
    for (let i = 0; i < edges.length; i += 1000) {
      const rows = edges.slice(i, i + 1000).map((e) => sql`(${e.id}, ${e.parentId}, ${e.childId}, ${"FINETUNED_FROM"}, ${new Date(e.at)})`);
      await database.direct.execute(sql`INSERT INTO "LineageEdge" ("id", "parentId", "childId", "relation", "createdAt") VALUES ${joinSql(rows, ", ")}`);
    }
  }, 120_000);

  const service = () => new LineageService(opened().prisma, opened().provider, new ModelReads(opened().direct));
  /** The edges' expected order: creation time, then id. */
  const expectedEdgeIds = async (where: object) =>
    (await opened().prisma.lineageEdge.findMany({ where, orderBy: [{ createdAt: "asc" }, { id: "asc" }], select: { id: true } })).map((e) => e.id);

  test("both directions from the base: the grandparent, all 20,000 children and every edge between them", async () => {
    const { nodeIds, edges } = await service().lineage({ modelId: "root", depth: 1, direction: LineageDirection.BOTH });
    expect(nodeIds).toHaveLength(CHILDREN + 2);
    expect(new Set(nodeIds)).toEqual(new Set(["root", "grandparent", ...Array.from({ length: CHILDREN }, (_, i) => `child-${String(i).padStart(5, "0")}`)]));
    expect(edges.map((e) => e.id)).toEqual(await expectedEdgeIds({}));
  }, 60_000);

  test("descendants only, limited to one relation: the children's edges; another relation: none", async () => {
    const { nodeIds, edges } = await service().lineage({ modelId: "root", depth: 3, direction: LineageDirection.DESCENDANTS, relations: ["FINETUNED_FROM"] });
    expect(nodeIds).toHaveLength(CHILDREN + 1);
    expect(edges.map((e) => e.id)).toEqual(await expectedEdgeIds({ parentId: "root" }));
    const none = await service().lineage({ modelId: "root", depth: 3, direction: LineageDirection.DESCENDANTS, relations: ["MERGED_FROM"] });
    expect(none.nodeIds).toEqual(["root"]);
    expect(none.edges).toEqual([]);
  }, 60_000);
});
