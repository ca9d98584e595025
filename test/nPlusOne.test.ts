import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { seedBasics } from "./support/fixtures";

const QUERY = `query($first: Int) {
  models(first: $first, orderBy: { field: NAME }) {
    totalCount
    edges { node {
      id name tags
      task { key }
      backbone { name }
      sourceDataset { name }
      targetDataset { name classes { name } }
      parents { name task { key } }
      children { name backbone { name } }
      parentEdges { relation parent { name } }
    } }
  }
}`;

describe.each(databaseKinds)("per-request batching (%s)", (kind) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(kind);
    const { task, backbone, gta, cityscapes } = await seedBasics(server);
    // 200 models in a chain of lineage edges (each model the child of the previous one), with
    // tags, a backbone and datasets — bulk-inserted: this test is about reads.
    const prisma = server.app.services.database.prisma;
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) {
      const m = await prisma.model.create({
        data: {
          name: `model-${String(i).padStart(3, "0")}`,
          taskId: task.id,
          backboneId: backbone.id,
          sourceDatasetId: gta.id,
          targetDatasetId: cityscapes.id,
          tags: { create: [{ tag: "uda" }, { tag: `seed${i % 3}` }] },
        },
      });
      ids.push(m.id);
    }
    for (let i = 1; i < ids.length; i++) {
      await prisma.lineageEdge.create({ data: { parentId: ids[i - 1], childId: ids[i], relation: "CHECKPOINT_OF" } });
    }
    // The job runner's periodic tick (heartbeats, take-overs of dead processes' jobs, claims)
    // queries the same database; this test counts the queries of one request alone.
    await server.app.services.runner.stop();
  });
  afterAll(() => server.stop());

  async function queriesFor(first: number) {
    const before = server.app.services.database.queryCount();
    // Executed afresh every time (an identical request would otherwise be answered from the
    // response cache, with no statements at all).
    const result = await server.gql(QUERY, { first }, { headers: { "cache-control": "no-cache" } });
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    const data = result.data;
    const count = server.app.services.database.queryCount() - before;
    return { count, data };
  }

  test("fetching 200 models with relations costs no more queries than fetching 10", async () => {
    await queriesFor(10); // warm caches and connection pools
    const small = await queriesFor(10);
    const large = await queriesFor(200);
    expect(small.data.models.edges).toHaveLength(10);
    expect(large.data.models.edges).toHaveLength(200);
    // The related objects really were resolved.
    const m5 = large.data.models.edges[5].node;
    expect(m5.parents.map((p: { name: string }) => p.name)).toEqual(["model-004"]);
    expect(m5.children.map((c: { name: string }) => c.name)).toEqual(["model-006"]);
    expect(m5.task.key).toBe("semantic");
    expect(m5.tags.sort()).toEqual(["seed2", "uda"]);
    // One page query + count, then one batched query per relation (and per nesting level).
    expect(large.count).toBe(small.count);
    expect(large.count).toBeLessThanOrEqual(16);
  });
});
