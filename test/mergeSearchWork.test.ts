import { createTestDatabase, databaseKinds, TestDatabase } from "./support/testDatabase";
import { openDatabase, type Database } from "../src/persistence/database";
import { MergeSearchWork, type WorkItem } from "../src/services/mergeSearchWork";

/*
 * The merge search work list on a real database: processes racing for candidates each get
 * different ones, every listed candidate once; a lease that is not renewed is claimed by another
 * process once it expires, a renewed one is not; a listed or scored candidate is not listed again.
 */
describe.each(databaseKinds)("merge search work list (%s)", (kind) => {
  let db: TestDatabase;
  let database: Database;
  let searchId = "";

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    database = await openDatabase(db.url);
  });
  afterAll(async () => {
    await database?.close();
    await db?.cleanup();
  });
  beforeEach(async () => {
    const job = await database.prisma.job.create({ data: { kind: "MERGE_SEARCH", payload: {}, status: "RUNNING" } });
    searchId = (await database.prisma.mergeSearch.create({ data: { jobId: job.id, settings: {}, planned: 0 } })).id;
  });

  const items = (n: number, from = 0): WorkItem[] => Array.from({ length: n }, (_, i) => ({ key: `k${from + i}`, position: from + i, recipe: { anchorId: "a", modelIds: [], method: null, schedule: null, weights: null, params: null, baseModelId: null } }));

  test("four claimers racing over 40 candidates: each candidate claimed by exactly one, in plan order per claimer", async () => {
    const lists = ["w1", "w2", "w3", "w4"].map((w) => new MergeSearchWork(database.prisma, database.direct, w, 60_000));
    await lists[0].add(searchId, items(40));
    const got = await Promise.all(
      lists.map(async (list) => {
        const mine: WorkItem[] = [];
        for (let item = await list.claim(searchId); item; item = await list.claim(searchId)) mine.push(item);
        return mine;
      }),
    );
    const all = got.flat().map((i) => i.key).sort();
    expect(all).toEqual(items(40).map((i) => i.key).sort());
    for (const mine of got) expect(mine.map((i) => i.position)).toEqual([...mine.map((i) => i.position)].sort((a, b) => a - b));
    const rows = await database.prisma.mergeSearchWork.findMany({ where: { searchId } });
    expect(rows).toHaveLength(40);
    for (const [w, mine] of got.entries()) for (const item of mine) expect(rows.find((r) => r.key === item.key)!.worker).toBe(`w${w + 1}`);
  });

  test("an unrenewed lease is claimed again once it expires; a renewed one is not; done and release", async () => {
    const dying = new MergeSearchWork(database.prisma, database.direct, "dying", 1000);
    const alive = new MergeSearchWork(database.prisma, database.direct, "alive", 1000);
    const other = new MergeSearchWork(database.prisma, database.direct, "other", 60_000);
    await dying.add(searchId, items(2));
    const a = await dying.claim(searchId);
    const b = await alive.claim(searchId);
    expect([a?.key, b?.key]).toEqual(["k0", "k1"]);
    expect(await other.claim(searchId)).toBeNull();
    // "alive" renews within its lease, "dying" does not.
    for (let t = 0; t < 8; t++) {
      await new Promise((r) => setTimeout(r, 200));
      await alive.renew(searchId, ["k1"]);
    }
    const again = await other.claim(searchId);
    expect(again?.key).toBe("k0");
    expect(await other.claim(searchId)).toBeNull();
    // the dead process's renewal (it was only slow) no longer touches a lease it lost
    await dying.renew(searchId, ["k0"]);
    expect((await database.prisma.mergeSearchWork.findFirstOrThrow({ where: { searchId, key: "k0" } })).worker).toBe("other");
    await other.done(searchId, "k0");
    await alive.release(searchId, "k1");
    expect(await other.left(searchId)).toBe(1);
    expect((await other.claim(searchId))?.key).toBe("k1");
  });

  test("adding again lists only what is neither listed nor scored", async () => {
    const list = new MergeSearchWork(database.prisma, database.direct, "w", 60_000);
    await list.add(searchId, items(3));
    await database.prisma.mergeSearchCandidate.create({ data: { searchId, key: "k3", position: 3, recipe: {}, seconds: 0, imageStats: new Uint8Array(0) } });
    await list.add(searchId, items(5));
    const rows = await database.prisma.mergeSearchWork.findMany({ where: { searchId }, orderBy: { position: "asc" } });
    expect(rows.map((r) => r.key)).toEqual(["k0", "k1", "k2", "k4"]);
  });

  test("a plan of 1,203 candidates (longer than one INSERT's rows, more keys than SQLite takes parameters) is listed whole, each recipe as given", async () => {
    const list = new MergeSearchWork(database.prisma, database.direct, "w", 60_000);
    const plan = items(1203).map((item, i) => ({ ...item, recipe: { ...item.recipe, modelIds: [`m${i}`, "m-x"], weights: [i / 1203, 1 - i / 1203], schedule: { kind: "LINEAR" as const } } }));
    await list.add(searchId, plan);
    const rows = await database.prisma.mergeSearchWork.findMany({ where: { searchId }, orderBy: { position: "asc" } });
    expect(rows).toHaveLength(1203);
    expect(rows.map((r) => [r.key, r.position, r.worker, r.leaseUntil])).toEqual(plan.map((i) => [i.key, i.position, null, null]));
    expect(new Set(rows.map((r) => r.id)).size).toBe(1203);
    for (const at of [0, 499, 500, 1000, 1202]) expect(rows[at]!.recipe).toEqual(plan[at]!.recipe);
    const first = await list.claim(searchId);
    expect(first).toEqual(plan[0]);
  });

  test("rows another owner listed between the check and the insert: the rest are added one by one, nothing twice", async () => {
    const list = new MergeSearchWork(database.prisma, database.direct, "w", 60_000);
    const plan = items(6);
    // The other owner's rows appear once this owner has looked for listed rows and found none.
    const query = database.direct.query.bind(database.direct);
    const spy = jest.spyOn(database.direct, "query").mockImplementationOnce(async (text) => {
      const found = await query(text);
      await new MergeSearchWork(database.prisma, database.direct, "other", 60_000).add(searchId, [plan[1]!, plan[4]!]);
      return found;
    });
    try {
      await list.add(searchId, plan);
    } finally {
      spy.mockRestore();
    }
    const rows = await database.prisma.mergeSearchWork.findMany({ where: { searchId }, orderBy: { position: "asc" } });
    expect(rows.map((r) => r.key)).toEqual(plan.map((i) => i.key));
  });

  test("at the time budget, candidates nobody holds are dropped, held ones stay", async () => {
    const list = new MergeSearchWork(database.prisma, database.direct, "w", 60_000);
    await list.add(searchId, items(3));
    await list.claim(searchId);
    await list.dropUnclaimed(searchId);
    expect((await database.prisma.mergeSearchWork.findMany({ where: { searchId } })).map((r) => r.key)).toEqual(["k0"]);
  });
});
