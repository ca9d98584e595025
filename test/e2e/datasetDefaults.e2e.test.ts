import type { BrowserContext } from "playwright-core";
import { describeBrowser, ensureWebBuild, expect_, launch, watchErrors } from "../support/browser";
import { startTestServer, type TestServer } from "../support/testServer";

/*
 * A registry whose most targeted dataset (ACDC, also first in the menus) has no scores: the
 * models page and the leaderboard open on the dataset with the most canonical scores (Dark
 * Zurich) instead of showing only "—" and "No model has a score".
 */
describeBrowser("dashboard defaults to the most scored dataset", () => {
  let server: TestServer;
  let context: BrowserContext;
  let darkZurich = "";

  beforeAll(async () => {
    ensureWebBuild();
    server = await startTestServer("sqlite");
    const contextPromise = launch();
    const taskId = (await server.ok(`mutation { createTask(input: { key: "semantic", name: "Semantic", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    const dataset = async (name: string) =>
      (await server.ok(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, {
        i: { name, taskId, format: "SEMANTIC_PNG", location: `/data/${name}`, classes: [{ id: 0, name: "road", isThing: false }], verify: false },
      })).createDataset.id as string;
    const [acdc, cityscapes] = [await dataset("ACDC"), await dataset("Cityscapes")];
    darkZurich = await dataset("Dark Zurich");
    const model = async (name: string, targetDatasetId: string) =>
      (await server.ok(`mutation($i: CreateModelInput!) { createModel(input: $i) { id } }`, { i: { name, taskId, origin: "IMPORTED", targetDatasetId } })).createModel.id as string;
    const score = (modelId: string, datasetId: string, value: number) =>
      server.ok(`mutation($i: RecordEvaluationInput!) { recordEvaluation(input: $i) { id } }`, { i: { modelId, datasetId, score: value, source: "paper" } });
    const a1 = await model("acdc-1", acdc);
    await model("acdc-2", acdc);
    await model("acdc-3", acdc);
    const z1 = await model("zurich-1", darkZurich);
    await score(a1, cityscapes, 0.41);
    await score(a1, darkZurich, 0.3);
    await score(z1, darkZurich, 0.52);
    context = await contextPromise;
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await server?.stop();
  });

  test("Models' “Score on” and the Leaderboard open on Dark Zurich (two scores), not ACDC (three targets, no score)", async () => {
    const page = await context.newPage();
    const errors = watchErrors(page);

    await page.goto(`${server.origin}/`);
    await page.getByTestId("models-table").waitFor();
    await expect_(async () => /Score \(Dark Zurich\)/.test((await page.getByTestId("models-table").locator("thead").textContent()) ?? ""), "the score column on Dark Zurich");
    expect(await page.getByLabel("Score on").locator("option").first().textContent()).toBe("most scored (Dark Zurich)");
    const cells = await page.getByTestId("models-table").locator("tbody tr", { hasText: "zurich-1" }).first().locator("td").allTextContents();
    expect(cells[7]).toBe("52.0 %");

    await page.goto(`${server.origin}/leaderboard`);
    await page.getByTestId("leaderboard").waitFor();
    expect(await page.getByLabel("Dataset").inputValue()).toBe(darkZurich);
    const rows = await page.getByTestId("leaderboard").locator("tbody tr").allTextContents();
    expect(rows).toHaveLength(2);
    expect(rows[0]).toContain("zurich-1");
    expect(rows[1]).toContain("acdc-1");
    expect(errors).toEqual([]);
  });
});
