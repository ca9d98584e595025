import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { seedBasics } from "./support/fixtures";
import type { SqlText } from "../src/persistence/directSql";

/**
 * A dashboard page that does not ask for `totalCount` must not count: on a registry of a million
 * models the count cost more than the page. Asked for, it is the number of live models (scored
 * live models for the leaderboard), here known from how the fixture was built.
 */
describe.each(databaseKinds)("totalCount is counted only when selected (%s)", (kind) => {
  let server: TestServer;
  let datasetId: string;
  const statements: string[] = [];

  beforeAll(async () => {
    server = await startTestServer(kind);
    const { task, cityscapes } = await seedBasics(server);
    datasetId = cityscapes.id;
    const prisma = server.app.services.database.prisma;
    // Six models, the last deleted; the first four scored (the deleted one too).
    for (let i = 0; i < 6; i++) {
      const m = await prisma.model.create({ data: { name: `m${i}`, taskId: task.id, deletedAt: i === 5 ? new Date() : null } });
      if (i < 4 || i === 5) {
        const evaluation = await prisma.evaluation.create({ data: { modelId: m.id, datasetId, settingsHash: "h", metrics: {}, perClass: [], score: i / 10, canonical: true } as never });
        await prisma.modelScore.create({ data: { modelId: m.id, datasetId, score: i / 10, evaluationId: evaluation.id } });
      }
    }
    await server.app.services.runner.stop();
    const direct = server.app.services.database.direct;
    const query = direct.query.bind(direct);
    direct.query = (text: SqlText) => {
      statements.push(text.strings.join("?"));
      return query(text);
    };
  });
  afterAll(() => server.stop());

  async function countsDuring(query: string, variables: Record<string, unknown> = {}) {
    statements.length = 0;
    const data = await server.ok(query, variables);
    return { data, counts: statements.filter((s) => /COUNT\(/i.test(s)).length, statements: statements.length };
  }

  test("a models page without totalCount issues no COUNT; with it, the live models", async () => {
    const without = await countsDuring(`{ models(first: 2) { edges { node { name } } pageInfo { hasNextPage } } }`);
    expect(without.data.models.edges).toHaveLength(2);
    expect(without.statements).toBeGreaterThan(0); // the page itself went through the direct reads
    expect(without.counts).toBe(0);
    const withCount = await countsDuring(`{ models(first: 2) { totalCount edges { node { name } } } }`);
    expect(withCount.data.models.totalCount).toBe(5);
    expect(withCount.counts).toBe(1);
    const viaFragment = await countsDuring(`{ models(first: 2) { ...C } } fragment C on ModelConnection { totalCount }`);
    expect(viaFragment.data.models.totalCount).toBe(5);
    const deleted = await countsDuring(`{ models(first: 50, includeDeleted: true) { totalCount } }`);
    expect(deleted.data.models.totalCount).toBe(6);
  });

  test("a filtered models page (through Prisma) counts only when asked", async () => {
    const before = server.app.services.database.queryCount();
    await server.ok(`{ models(first: 2, where: { nameContains: "m" }) { edges { node { name } } } }`);
    const without = server.app.services.database.queryCount() - before;
    const mid = server.app.services.database.queryCount();
    const { models } = await server.ok(`{ models(first: 2, where: { nameContains: "m" }) { totalCount edges { node { name } } } }`);
    expect(models.totalCount).toBe(5);
    expect(server.app.services.database.queryCount() - mid).toBe(without + 1);
  });

  test("a leaderboard page without totalCount issues no COUNT; with it, the scored live models", async () => {
    const board = `query($d: ID!, $a: String) { leaderboard(datasetId: $d, first: 2, after: $a) { pageInfo { endCursor } edges { node { rank score } } } }`;
    const without = await countsDuring(board, { d: datasetId });
    expect(without.data.leaderboard.edges.map((e: { node: { rank: number } }) => e.node.rank)).toEqual([1, 2]);
    expect(without.counts).toBe(0);
    const withCount = await countsDuring(`query($d: ID!) { leaderboard(datasetId: $d, first: 2) { totalCount edges { node { rank } } } }`, { d: datasetId });
    expect(withCount.data.leaderboard.totalCount).toBe(4);
    expect(withCount.counts).toBe(1);
    // After a cursor the rank base is still counted (ranks need it); totalCount is not.
    const next = await countsDuring(board, { d: datasetId, a: without.data.leaderboard.pageInfo.endCursor });
    expect(next.data.leaderboard.edges.map((e: { node: { rank: number } }) => e.node.rank)).toEqual([3, 4]);
    expect(next.counts).toBe(1);
  });
});
