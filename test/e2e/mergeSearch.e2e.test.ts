import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { describeWithBrowser, ensureWebBuild, eventually, launch, SCREENSHOTS, shot, watchErrors } from "../support/browser";
import { startTestServer, type TestServer } from "../support/testServer";
import { upload } from "../support/http";
import { waitForJob } from "../support/jobs";
import { blocks, twoLayerNet } from "../support/searchFixtures";
import { writeOnnxModel } from "../../src/core/formats/onnx/testing/onnxModelWriter";

/*
 * The merge search pages in Chromium: a search started from the Merge builder, followed live to
 * its end, and its page read against the API's own answer for the same search, fetched here
 * independently: the ranked table (both orders, paged), the pick and how sure it is, and the
 * objective-vs-audit scatter plot with one point per candidate.
 */
const describeBrowser = describeWithBrowser("merge search e2e tests");

const CLASSES = [
  { id: 0, name: "red", isThing: false },
  { id: 1, name: "green", isThing: false },
  { id: 2, name: "blue", isThing: true },
];
const CONTRACT = { inputName: "image", width: 4, height: 4, resize: { mode: "FIXED" }, channelOrder: "RGB", mean: [120, 120, 120], std: [60, 60, 60], outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" }] };
const SEARCH = `query($id: ID!, $order: MergeSearchCandidateOrder) { mergeSearch(id: $id) {
  planned truncated spearman pickConfidence marginVsBestSingle pickIsSingle settings
  best { key recipe } job { id status } keptJobs { id }
  candidates(first: 500, orderBy: $order) { totalCount edges { node { key rank objective audit seconds isSingle recipe } } } } }`;

interface Candidate { key: string; rank: number; objective: number; audit: number | null; seconds: number; isSingle: boolean; recipe: { anchorId: string; modelIds: string[] } }

// The page's number formats, written again here: 5 decimals for objectives, percent for audits.
const objectiveText = (v: number) => v.toFixed(5);
const auditText = (v: number | null) => (v === null ? "—" : `${(v * 100).toFixed(2)} %`);
const signedText = (v: number) => `${v > 0 ? "+" : v < 0 ? "−" : "±"}${Math.abs(v).toFixed(5)}`;

describeBrowser("merge search pages in Chromium", () => {
  let server: TestServer;
  let context: BrowserContext;
  let root: string;
  let labelled = "";
  let unlabelled = "";
  const pool: string[] = [];
  const names = new Map<string, string>();
  let base = "";

  beforeAll(async () => {
    ensureWebBuild();
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    root = fs.mkdtempSync(path.join(os.tmpdir(), "lm-search-e2e-"));
    server = await startTestServer("sqlite", { LAYERMERGE_DATASET_ROOTS: root });
    const contextPromise = launch();
    const taskId = (await server.ok(`mutation { createTask(input: { key: "sem", name: "Semantic", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    await blocks(path.join(root, "labelled"));
    fs.mkdirSync(path.join(root, "target"));
    for (const f of fs.readdirSync(path.join(root, "labelled", "images"))) fs.copyFileSync(path.join(root, "labelled", "images", f), path.join(root, "target", f));
    const create = async (name: string, location: string, format: string) =>
      (await server.ok(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, { i: { name, taskId, format, location, classes: CLASSES } })).createDataset.id as string;
    labelled = await create("source-val", path.join(root, "labelled"), "SEMANTIC_PNG");
    unlabelled = await create("target-unlabelled", path.join(root, "target"), "IMAGES");
    for (const seed of [11, 22, 33]) {
      const { body } = await upload(server.origin, writeOnnxModel(twoLayerNet(seed)).bytes);
      const id = (await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: `m${seed}`, taskId, artifactSha256: body.sha256, inference: CONTRACT } })).registerModel.id;
      pool.push(id);
      names.set(id, `m${seed}`);
    }
    // The common pre-trained model that TIES and DARE take task vectors from (not in the pool).
    const { body } = await upload(server.origin, writeOnnxModel(twoLayerNet(44)).bytes);
    base = (await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: "pre", taskId, artifactSha256: body.sha256, inference: CONTRACT } })).registerModel.id;
    context = await contextPromise;
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await server?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  const rows = (page: Page) => page.getByTestId("search-candidates").locator("tbody tr");
  const rowKeys = (page: Page) => rows(page).evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-key")));

  test("start a search from the Merge builder, follow it, and read the ranked table, the pick and the scatter plot as the API gives them", async () => {
    const page = await context.newPage();
    const errors = watchErrors(page);

    // The builder with an anchor and both other pool models as contributors.
    await page.goto(`${server.origin}/merge?anchor=${pool[0]}&with=${pool[1]},${pool[2]}`);
    const form = page.getByTestId("search-form");
    await form.waitFor();
    // Defaults: INFO_MAX on the task's unlabelled dataset, no audit.
    expect(await form.getByLabel("Objective", { exact: true }).inputValue()).toBe("INFO_MAX");
    await eventually(async () => (await form.getByLabel("Objective dataset").inputValue()) === unlabelled, "the unlabelled dataset chosen by default");
    expect(await form.getByLabel(/^Audit dataset/).inputValue()).toBe("");
    await form.getByLabel(/^Audit dataset/).selectOption(labelled);
    await form.getByLabel("Budget (candidates)").fill("12");
    await form.getByLabel("Keep").selectOption("BEST");
    await shot(page, "20-search-form");
    // The page's first answer says the search is still running at 0 %, so its end can only reach
    // the page through jobUpdated (the socket works here, so nothing polls).
    const frames: string[] = [];
    page.on("websocket", (ws) => ws.on("framereceived", ({ payload }) => frames.push(String(payload))));
    let searchAnswers = 0;
    await page.route("**/graphql", async (route) => {
      if (!(route.request().postData() ?? "").includes("query Search(") || ++searchAnswers > 1) return route.continue();
      const response = await route.fetch();
      const body = await response.json();
      Object.assign(body.data.mergeSearch.job, { status: "RUNNING", progress: 0, message: "pretend: still running", finishedAt: null });
      return route.fulfill({ response, json: body });
    });
    await form.getByRole("button", { name: "Start search over 3 models" }).click();
    await page.waitForURL(/\/searches\/[^/?]+/);
    const searchId = new URL(page.url()).pathname.split("/").pop()!;

    await page.locator('[data-testid="search-status"][data-status="SUCCEEDED"]').waitFor({ timeout: 90_000 });
    expect(await page.getByRole("progressbar").first().getAttribute("aria-valuenow")).toBe("100");
    expect(frames.some((f) => /"jobUpdated":\{[^}]*"status":"SUCCEEDED"/.test(f))).toBe(true);

    // The API's own answer for this search.
    const byObjective = (await server.ok(SEARCH, { id: searchId, order: "OBJECTIVE" })).mergeSearch;
    const byAudit = (await server.ok(SEARCH, { id: searchId, order: "AUDIT" })).mergeSearch;
    // What the form sent: the pool, the objective, the audit and the budget.
    expect(byObjective.settings.modelIds).toEqual(pool);
    expect(byObjective.settings.objective.kind).toBe("INFO_MAX");
    expect(byObjective.settings.objective.datasetId).toBe(unlabelled);
    expect(byObjective.settings.audit.datasetId).toBe(labelled);
    expect(byObjective.settings.budget.maxCandidates).toBe(12);
    expect(byObjective.settings.keep).toBe("BEST");
    const ranked: Candidate[] = byObjective.candidates.edges.map((e: any) => e.node);
    const audited: Candidate[] = byAudit.candidates.edges.map((e: any) => e.node);
    expect(ranked).toHaveLength(12);

    // Ranked table, 10 rows a page, by objective.
    await page.getByLabel("Rows per page").selectOption("10");
    await eventually(async () => (await rows(page).count()) === 10, "a page of 10 candidates");
    expect(await rowKeys(page)).toEqual(ranked.slice(0, 10).map((c) => c.key));
    for (const [i, c] of ranked.slice(0, 10).entries()) {
      const cells = await rows(page).nth(i).locator("td").allTextContents();
      expect(cells[0]).toBe(String(c.rank));
      expect(cells[1]).toContain(names.get(c.recipe.anchorId)!);
      for (const id of c.recipe.modelIds) expect(cells[1]).toContain(names.get(id)!);
      if (c.isSingle) expect(cells[1]).toContain("alone");
      expect(cells[2]).toBe(objectiveText(c.objective));
      expect(cells[3]).toBe(auditText(c.audit));
      expect(cells[4]).toBe(`${c.seconds.toFixed(2)} s`);
    }
    await shot(page, "21-search-done");
    await page.getByRole("button", { name: "Next" }).click();
    await eventually(async () => JSON.stringify(await rowKeys(page)) === JSON.stringify(ranked.slice(10).map((c) => c.key)), "the second page by objective");
    await page.getByRole("button", { name: "Previous" }).click();
    await eventually(async () => JSON.stringify(await rowKeys(page)) === JSON.stringify(ranked.slice(0, 10).map((c) => c.key)), "the first page again");

    // By audit.
    await page.getByLabel("Order by").selectOption("AUDIT");
    await page.waitForURL(/order=AUDIT/);
    await eventually(async () => JSON.stringify(await rowKeys(page)) === JSON.stringify(audited.slice(0, 10).map((c) => c.key)), "the first page by audit");
    for (const [i, c] of audited.slice(0, 10).entries()) expect((await rows(page).nth(i).locator("td").allTextContents())[3]).toBe(auditText(c.audit));

    // The pick and how sure it is.
    const pick = page.getByTestId("search-pick");
    const pickText = (await pick.textContent()) ?? "";
    expect(await pick.getAttribute("data-key")).toBe(byObjective.best.key);
    expect(pickText).toContain(`${(byObjective.pickConfidence * 100).toFixed(1)} %`);
    expect(pickText).toContain(signedText(byObjective.marginVsBestSingle));
    if (byObjective.pickIsSingle) expect(pickText).toContain(`Don't merge — keep ${names.get(byObjective.best.recipe.anchorId)}`);
    else expect(pickText).toMatch(/^Merge:/);

    // The kept model (a merge pick is registered after the search; a single-model pick writes nothing).
    if (byObjective.pickIsSingle) {
      expect(byObjective.keptJobs).toEqual([]);
      expect(await pick.getByTestId("kept-model").count()).toBe(0);
    } else {
      expect(byObjective.keptJobs).toHaveLength(1);
      const kept = await waitForJob(server, byObjective.keptJobs[0].id);
      expect(kept.status).toBe("SUCCEEDED");
      await eventually(async () => (await pick.getByTestId("kept-model").count()) === 1, "the kept model's link", 30_000);
      expect(await pick.getByTestId("kept-model").getAttribute("href")).toBe(`/models/${kept.model.id}`);
    }

    // One scatter point per candidate, at the API's objective and audit, with the API's ρ.
    const scatter = page.getByTestId("objective-audit-scatter");
    const points = await scatter.locator("circle.point").evaluateAll((cs) => cs.map((c) => ({ key: c.getAttribute("data-key"), objective: Number(c.getAttribute("data-objective")), audit: Number(c.getAttribute("data-audit")) })));
    expect(points).toHaveLength(ranked.length);
    expect(points.map((p) => p.key).sort()).toEqual(ranked.map((c) => c.key).sort());
    for (const p of points) {
      const c = ranked.find((r) => r.key === p.key)!;
      expect(p.objective).toBe(c.objective);
      expect(p.audit).toBe(c.audit);
    }
    expect(byObjective.spearman).not.toBeNull();
    expect(await scatter.textContent()).toContain(`Spearman ρ = ${byObjective.spearman.toFixed(3)}`);

    // The list of searches links to it.
    await page.goto(`${server.origin}/searches`);
    const list = page.getByTestId("searches-table");
    await list.waitFor();
    expect(await list.locator("tbody tr").count()).toBe(1);
    expect(await list.locator("tbody tr").first().textContent()).toMatch(/info_max/i);
    await shot(page, "22-searches");
    await list.locator("tbody tr a").first().click();
    await page.waitForURL(new RegExp(`/searches/${searchId}`));
    await page.getByTestId("search-pick").waitFor();
    // A link of the form /searches?search=<id> opens the same page.
    await page.goto(`${server.origin}/searches?search=${searchId}`);
    await page.waitForURL(new RegExp(`/searches/${searchId}$`));
    await page.getByTestId("search-pick").waitFor();

    // The Jobs page links the search's job to its page.
    await page.goto(`${server.origin}/jobs?kind=MERGE_SEARCH`);
    await page.getByTestId("jobs-table").waitFor();
    expect(await page.getByTestId("jobs-table").locator(`a[href="/searches/${searchId}"]`).count()).toBe(1);
    await page.close();
    expect(errors).toEqual([]);
  }, 180_000);

  test("a search whose pick is a single model says not to merge and links the model to keep", async () => {
    // One model per candidate: every candidate is a single model, so the pick is one.
    const { startMergeSearch } = await server.ok(`mutation($i: MergeSearchInput!) { startMergeSearch(input: $i) { id mergeSearch { id } } }`, {
      i: { modelIds: pool, maxModels: 1, objective: { kind: "INFO_MAX", datasetId: unlabelled } },
    });
    expect((await waitForJob(server, startMergeSearch.id)).status).toBe("SUCCEEDED");
    const search = (await server.ok(SEARCH, { id: startMergeSearch.mergeSearch.id, order: "OBJECTIVE" })).mergeSearch;
    expect(search.pickIsSingle).toBe(true);
    const keep = search.best.recipe.anchorId;

    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${server.origin}/searches/${startMergeSearch.mergeSearch.id}`);
    const pick = page.getByTestId("search-pick");
    await pick.waitFor();
    // Model names arrive in a second request: the pick shows the id until then.
    await eventually(async () => ((await pick.textContent()) ?? "").includes(`Don't merge — keep ${names.get(keep)}`), `the pick says to keep ${names.get(keep)}`);
    expect(await pick.getByRole("link", { name: names.get(keep)! }).first().getAttribute("href")).toBe(`/models/${keep}`);
    // Without an audit there is nothing to plot.
    expect(await page.getByTestId("objective-audit-scatter").count()).toBe(0);
    expect(await rows(page).count()).toBe(3);
    expect(await page.getByTestId("search-candidates").locator("thead th").allTextContents()).toEqual(["Rank", "Recipe", "Objective", "Time"]);
    await shot(page, "23-search-keep-single");
    await page.close();
    expect(errors).toEqual([]);
  }, 120_000);

  test("the search form offers each chosen method's parameters from the registry; the grids typed there are the started search's", async () => {
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${server.origin}/merge?anchor=${pool[0]}&with=${pool[1]},${pool[2]}`);
    const form = page.getByTestId("search-form");
    await form.waitFor();
    // The builder's method (LAYERWISE, which has no parameters) until other methods are chosen.
    await eventually(async () => (await form.getByLabel("Method LAYERWISE").count()) === 1, "the methods from mergeMethods");
    expect(await form.getByLabel("Method LAYERWISE").isChecked()).toBe(true);
    expect(await form.getByTestId("search-grids").locator("input").count()).toBe(0);
    await form.getByLabel("Method TIES").check();
    await form.getByLabel("Method DARE").check();
    await form.getByLabel("Method LAYERWISE").uncheck();
    // One field per parameter of each chosen method, as the registry lists them.
    const fields = await form.getByTestId("search-grids").locator("input").evaluateAll((inputs) => inputs.map((i) => i.getAttribute("aria-label")));
    expect(fields).toEqual(["TIES lambda values", "TIES density values", "DARE lambda values", "DARE dropRate values", "DARE seed values"]);
    await form.getByLabel("TIES density values").fill("0.2, 0.8");
    await form.getByLabel("DARE dropRate values").fill("0.3,0.6");
    await eventually(async () => (await form.getByLabel("Search base model").locator(`option[value="${base}"]`).count()) === 1, "the base model among the choices");
    await form.getByLabel("Search base model").selectOption(base);
    await form.getByLabel("Budget (candidates)").fill("12");
    // A value that is not a number is refused before anything is sent, naming it.
    await form.getByLabel("TIES lambda values").fill("1, x");
    await form.getByRole("button", { name: "Start search over 3 models" }).click();
    await eventually(async () => ((await form.textContent()) ?? "").includes("TIES lambda: “x” is not a number"), "the refusal naming the value");
    expect(page.url()).toContain("/merge");
    await form.getByLabel("TIES lambda values").fill("");
    await shot(page, "24-search-grids");
    await form.getByRole("button", { name: "Start search over 3 models" }).click();
    await page.waitForURL(/\/searches\/[^/?]+/);
    const searchId = new URL(page.url()).pathname.split("/").pop()!;

    const started = (await server.ok(SEARCH, { id: searchId, order: "OBJECTIVE" })).mergeSearch;
    expect(started.settings.methods).toEqual(["TIES", "DARE"]);
    expect(started.settings.baseModelId).toBe(base);
    expect(started.settings.paramGrids).toEqual([
      { method: "TIES", parameters: [{ name: "density", values: [0.2, 0.8] }] },
      { method: "DARE", parameters: [{ name: "dropRate", values: [0.3, 0.6] }] },
    ]);
    expect((await waitForJob(server, started.job.id)).status).toBe("SUCCEEDED");
    const done = (await server.ok(SEARCH, { id: searchId, order: "OBJECTIVE" })).mergeSearch;
    const merges = done.candidates.edges.map((e: any) => e.node).filter((c: any) => !c.isSingle);
    // Budget 12: the 3 singles, then the pair anchored by the first model with the second, whose
    // 4 grid points × 6 default schedules are 8 candidates (with L = 2, COSINE and every STEP give
    // LINEAR's s = (0, 1)), then one of the next anchor's.
    expect(merges).toHaveLength(9);
    const point = (c: any) => `${c.recipe.method} ${JSON.stringify(c.recipe.params)}`;
    const points = [`TIES {"density":0.2}`, `TIES {"density":0.8}`, `DARE {"dropRate":0.3}`, `DARE {"dropRate":0.6}`];
    for (const c of merges) expect(points).toContain(point(c));
    const first = merges.filter((c: any) => c.recipe.anchorId === pool[0] && c.recipe.modelIds.join() === pool[1]);
    expect(first.map((c: any) => `${point(c)} ${c.recipe.schedule.kind}`).sort()).toEqual(points.flatMap((p) => [`${p} UNIFORM`, `${p} LINEAR`]).sort());
    await page.close();
    expect(errors).toEqual([]);
  }, 180_000);
});
