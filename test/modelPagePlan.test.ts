import { createTestDatabase, databaseKinds, TestDatabase } from "./support/testDatabase";
import { openDatabase, Database } from "../src/persistence/database";
import { sql } from "../src/persistence/directSql";
import { pageStatement, type ModelPageQuery } from "../src/services/modelReads";

/**
 * The dashboards' models page (no filter, live models) must be read in the order of the Model
 * (deletedAt, field, id) index and stop at the page's end: no sort of the live models, whatever
 * the table holds. At a million models PostgreSQL otherwise walked the (createdAt) index and
 * sorted again. The planner is asked with sequential scans and sorts priced out, so the plan
 * says whether the statement's order *can* come from that index — on a table of a few rows it
 * would otherwise rightly prefer reading the table.
 */
describe.each(databaseKinds)("the models page reads the (deletedAt, field, id) index in order (%s)", (kind) => {
  let target: TestDatabase;
  let database: Database;
  let afterByField: Record<"name" | "createdAt", { value: string; id: string }>;

  beforeAll(async () => {
    target = await createTestDatabase(kind);
    database = await openDatabase(target.url);
    const p = database.prisma;
    const task = await p.task.create({ data: { key: "semantic", name: "Semantic", kind: "SEMANTIC", primaryMetric: "MIOU" } });
    const rows = [];
    for (let i = 0; i < 30; i++) {
      rows.push(await p.model.create({ data: { name: `m${i % 7}`, version: String(i), taskId: task.id, createdAt: new Date(Date.UTC(2026, 0, 1 + (i % 5))), deletedAt: i % 4 === 0 ? new Date() : null } }));
    }
    const middle = rows[13]!;
    afterByField = { name: { value: middle.name, id: middle.id }, createdAt: { value: middle.createdAt.toISOString(), id: middle.id } };
    if (kind === "postgres") await p.$executeRawUnsafe(`ANALYZE "Model"`);
  });
  afterAll(async () => {
    await database.close();
    await target.cleanup();
  });

  async function plan(query: ModelPageQuery): Promise<string> {
    const statement = pageStatement(query);
    if (kind === "sqlite") {
      const rows = await database.direct.query(sql`EXPLAIN QUERY PLAN ${statement}`);
      return rows.map((r) => String(r.detail)).join("\n");
    }
    return database.direct.transaction(async (tx) => {
      for (const off of ["enable_seqscan", "enable_bitmapscan", "enable_sort", "enable_incremental_sort"]) await tx.execute(sql`SELECT set_config(${off}, 'off', true)`);
      const rows = await tx.query(sql`EXPLAIN ${statement}`);
      return rows.map((r) => String(r["QUERY PLAN"])).join("\n");
    });
  }

  for (const field of ["createdAt", "name"] as const) {
    for (const direction of ["asc", "desc"] as const) {
      for (const withCursor of [false, true]) {
        test(`${field} ${direction}${withCursor ? " after a cursor" : ""}`, async () => {
          const text = await plan({ field, direction, after: withCursor ? afterByField[field] : null, take: 6, includeDeleted: false });
          expect(text).toContain(`Model_deletedAt_${field}_id_idx`);
          if (kind === "sqlite") expect(text).not.toMatch(/TEMP B-TREE/);
          else expect(text).not.toMatch(/Sort/);
          // After a cursor the scan starts at it (an index condition on the field), not at the top.
          if (withCursor && kind === "postgres") expect(text).toMatch(new RegExp(`Index Cond: .*${field === "name" ? "name" : '"createdAt"'} ${direction === "asc" ? ">=" : "<="}`));
        });
      }
    }
  }

  test("the page itself is unchanged: every live model once, in (field, id) order", async () => {
    // Walks the whole table page by page and compares with an order computed here.
    const live = (await database.prisma.model.findMany({ where: { deletedAt: null } })).sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    const seen: string[] = [];
    let after: ModelPageQuery["after"] = null;
    for (;;) {
      const rows = await database.direct.query(pageStatement({ field: "createdAt", direction: "desc", after, take: 4, includeDeleted: false }));
      if (rows.length === 0) break;
      seen.push(...rows.map((r) => String(r.id)));
      const last = rows[rows.length - 1]!;
      after = { value: new Date(last.createdAt as string | Date).toISOString(), id: String(last.id) };
    }
    expect(seen).toEqual(live.map((m) => m.id));
  });
});
