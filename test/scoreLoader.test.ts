import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { createModel, seedBasics } from "./support/fixtures";

describe.each(databaseKinds)("scores of a page of models on several datasets (%s)", (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server.stop();
  });

  test("each model's score on each dataset, none where none was recorded, in one request", async () => {
    const { task, gta, cityscapes } = await seedBasics(server);
    const recorded = new Map<string, number>();
    const models: string[] = [];
    for (let i = 0; i < 12; i++) {
      const { id } = await createModel(server, { name: `scored-${String(i).padStart(2, "0")}`, taskId: task.id });
      models.push(id);
      // gta for every other model, Cityscapes for every third: some have both, some neither.
      for (const [datasetId, every] of [[gta.id, 2], [cityscapes.id, 3]] as const) {
        if (i % every !== 0) continue;
        const score = (i * 7 + every) / 100;
        await server.ok(`mutation($i: RecordEvaluationInput!) { recordEvaluation(input: $i) { id } }`, { i: { modelId: id, datasetId, score, source: "test" } });
        recorded.set(`${id}|${datasetId}`, score);
      }
    }
    const { models: page } = await server.ok(
      `query($g: ID!, $c: ID!) { models(first: 50, orderBy: { field: NAME }) { edges { node { id g: score(datasetId: $g) c: score(datasetId: $c) } } } }`,
      { g: gta.id, c: cityscapes.id },
    );
    const got = page.edges.map((e: any) => [e.node.id, e.node.g, e.node.c]);
    expect(got).toEqual(models.map((id) => [id, recorded.get(`${id}|${gta.id}`) ?? null, recorded.get(`${id}|${cityscapes.id}`) ?? null]));
    expect(recorded.size).toBe(6 + 4);
  });
});
