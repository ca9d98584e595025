import { startTestServer, type TestServer } from "../support/testServer";
import { mostUsedTargetQuery, pickMostUsed } from "../../web/src/api/mostUsedTarget";

/*
 * The models page's default score dataset, asked of a real server: the count query must pass the
 * API's validation and complexity limits, and the pick must be the most targeted dataset, not
 * the first of the menu.
 */
describe("most used target dataset (models page default)", () => {
  let server: TestServer;
  afterAll(async () => server?.stop());

  test("counts models per target dataset in one request and picks the largest, ties to the earlier", async () => {
    server = await startTestServer("sqlite");
    const taskId = (await server.ok(`mutation { createTask(input: { key: "semantic", name: "Semantic", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    const dataset = async (name: string) =>
      (await server.ok(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, {
        i: { name, taskId, format: "SEMANTIC_PNG", location: `/data/${name}`, classes: [{ id: 0, name: "road", isThing: false }], verify: false },
      })).createDataset.id as string;
    // Menu order (by name): ACDC, Cityscapes, Dark Zurich, GTA5.
    const [acdc, cityscapes, darkZurich, gta] = [await dataset("ACDC"), await dataset("Cityscapes"), await dataset("Dark Zurich"), await dataset("GTA5")];
    const model = (name: string, targetDatasetId: string | null, sourceDatasetId: string | null = null) =>
      server.ok(`mutation($i: CreateModelInput!) { createModel(input: $i) { id } }`, { i: { name, taskId, origin: "IMPORTED", targetDatasetId, sourceDatasetId } });
    // Targets: ACDC 1, Cityscapes 2, Dark Zurich 2, GTA5 0 (GTA5 is only ever a source, 4 times).
    await model("a1", acdc, gta);
    await model("c1", cityscapes, gta);
    await model("c2", cityscapes, gta);
    await model("d1", darkZurich, gta);
    await model("d2", darkZurich);
    await model("untargeted", null);

    const menu = [acdc, cityscapes, darkZurich, gta];
    const counts = await server.ok(mostUsedTargetQuery(menu), Object.fromEntries(menu.map((id, k) => [`d${k}`, id])));
    expect(menu.map((_, k) => counts[`d${k}`].totalCount)).toEqual([1, 2, 2, 0]);
    // Cityscapes and Dark Zurich tie at 2: the earlier in the menu wins.
    expect(pickMostUsed(menu, counts)).toBe(cityscapes);
    expect(pickMostUsed([gta, darkZurich, cityscapes], { d0: counts.d3, d1: counts.d2, d2: counts.d1 })).toBe(darkZurich);
    // Nobody targets GTA5: no default, the page asks for a dataset instead.
    expect(pickMostUsed([gta], { d0: counts.d3 })).toBe("");
  });
});
