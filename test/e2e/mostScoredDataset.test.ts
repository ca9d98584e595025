import { startTestServer, type TestServer } from "../support/testServer";
import { mostScoredQuery, pickMostScored } from "../../web/src/api/mostScoredDataset";

/*
 * The dashboard's default dataset (models page score column, leaderboard), asked of a real
 * server: the count query must pass the API's validation and complexity limits, and the pick
 * must be the dataset with the most canonical scores — not the most targeted one, not the first
 * of the menu.
 */
describe("dataset with the most canonical scores (dashboard default)", () => {
  let server: TestServer;
  afterAll(async () => server?.stop());

  test("counts canonical scores per dataset in one request and picks the largest, ties to the earlier", async () => {
    server = await startTestServer("sqlite");
    const taskId = (await server.ok(`mutation { createTask(input: { key: "semantic", name: "Semantic", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    const dataset = async (name: string) =>
      (await server.ok(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, {
        i: { name, taskId, format: "SEMANTIC_PNG", location: `/data/${name}`, classes: [{ id: 0, name: "road", isThing: false }], verify: false },
      })).createDataset.id as string;
    // Menu order (by name): ACDC, Cityscapes, Dark Zurich, GTA5.
    const [acdc, cityscapes, darkZurich, gta] = [await dataset("ACDC"), await dataset("Cityscapes"), await dataset("Dark Zurich"), await dataset("GTA5")];
    const model = async (name: string, targetDatasetId: string | null) =>
      (await server.ok(`mutation($i: CreateModelInput!) { createModel(input: $i) { id } }`, { i: { name, taskId, origin: "IMPORTED", targetDatasetId } })).createModel.id as string;
    const score = (modelId: string, datasetId: string, value: number) =>
      server.ok(`mutation($i: RecordEvaluationInput!) { recordEvaluation(input: $i) { id } }`, { i: { modelId, datasetId, score: value, source: "test" } });
    // Three models target ACDC and none is scored there; Cityscapes and Dark Zurich have two
    // canonical scores each (a model scored twice on one dataset counts once); GTA5 none.
    const [a1, a2, a3] = [await model("a1", acdc), await model("a2", acdc), await model("a3", acdc)];
    await score(a1, cityscapes, 0.4);
    await score(a2, cityscapes, 0.5);
    await score(a1, darkZurich, 0.3);
    await score(a1, darkZurich, 0.35);
    await score(a3, darkZurich, 0.2);

    const menu = [acdc, cityscapes, darkZurich, gta];
    const counts = await server.ok(mostScoredQuery(menu), Object.fromEntries(menu.map((id, k) => [`d${k}`, id])));
    expect(menu.map((_, k) => counts[`d${k}`].totalCount)).toEqual([0, 2, 2, 0]);
    // Cityscapes and Dark Zurich tie at 2: the earlier in the menu wins.
    expect(pickMostScored(menu, counts)).toBe(cityscapes);
    expect(pickMostScored([gta, darkZurich, cityscapes], { d0: counts.d3, d1: counts.d2, d2: counts.d1 })).toBe(darkZurich);
    // Nothing scored on ACDC or GTA5: no default, the page asks for a dataset instead.
    expect(pickMostScored([acdc, gta], { d0: counts.d0, d1: counts.d3 })).toBe("");
  });
});
