import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { describeWithBrowser, ensureWebBuild, eventually, launch, SCREENSHOTS, shot, watchErrors } from "../support/browser";
import { startTestServer, type TestServer } from "../support/testServer";
import { upload } from "../support/http";
import { waitForJob } from "../support/jobs";
import { buildSegNet } from "../../src/core/formats/onnx/testing/buildSegNet";
import { writeSemanticSample } from "../../src/runtime/testing/evalFixtures";

/*
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against a real
 * server on a random port with generated models, evaluations and merges.
 */
const describeBrowser = describeWithBrowser("dashboard e2e tests");
const expect_ = eventually;

/**
 * Makes the page's first job(id) answer say RUNNING at 0 % (the rest of it real), so the job
 * panel has to follow a job that in truth has already ended: the end can then only reach it
 * through jobUpdated (or, with the socket gone, through polling) — no race with a fast merge.
 * Returns how many job(id) queries the page sent.
 */
async function pretendFirstJobAnswerRunning(page: Page): Promise<() => number> {
  let sent = 0;
  await page.route("**/graphql", async (route) => {
    if (!(route.request().postData() ?? "").includes("query Job(")) return route.continue();
    sent += 1;
    if (sent > 1) return route.continue();
    const response = await route.fetch();
    const body = await response.json();
    Object.assign(body.data.job, { status: "RUNNING", progress: 0, message: "pretend: still running", model: null, finishedAt: null });
    return route.fulfill({ response, json: body });
  });
  return () => sent;
}

/** The text of every WebSocket frame the page receives. */
function recordSocketFrames(page: Page): string[] {
  const frames: string[] = [];
  page.on("websocket", (ws) => ws.on("framereceived", ({ payload }) => frames.push(String(payload))));
  return frames;
}
const JOB_SUCCEEDED_FRAME = /"jobUpdated":\{[^}]*"status":"SUCCEEDED"/;

describeBrowser("dashboard in Chromium", () => {
  let server: TestServer;
  let context: BrowserContext;
  let dataDir: string;
  const ids: Record<string, string> = {};
  let datasetId = "";
  let taskId = "";
  let priorJobId = "";

  const register = async (name: string, seed: number, extra: Record<string, unknown>, heads: "A" | "B" = "A") => {
    const net = buildSegNet({ seed, heads });
    const { body } = await upload(server.origin, net.bytes);
    const { registerModel } = await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, {
      i: {
        name, taskId, artifactSha256: body.sha256, ...extra,
        inference: { inputName: net.description.inputName, width: 16, height: 16, outputs: [{ name: net.description.outputName, kind: "SEMANTIC_LOGITS" }] },
      },
    });
    ids[name] = registerModel.id;
  };
  const evaluate = async (modelId: string) => {
    const { startEvaluation } = await server.ok(`mutation($i: StartEvaluationInput!) { startEvaluation(input: $i) { id } }`, { i: { modelId, datasetId } });
    const job = await waitForJob(server, startEvaluation.id);
    if (job.status !== "SUCCEEDED") throw new Error(`evaluation of ${modelId} ended ${job.status}: ${job.error}`);
  };

  beforeAll(async () => {
    ensureWebBuild();
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-e2e-"));
    server = await startTestServer("sqlite", { LAYERMERGE_DATASET_ROOTS: `${dataDir}:/data` });
    const contextPromise = launch();

    taskId = (await server.ok(`mutation { createTask(input: { key: "semantic", name: "Semantic segmentation", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    // Two 16×16 images whose labels are quadrants of the four classes: enough for real, non-trivial IoUs.
    for (let i = 0; i < 2; i++) {
      const label = Array.from({ length: 256 }, (_, p) => ((p % 16 < 8 ? 0 : 1) + (p < 128 ? 0 : 2) + i) % 4);
      const rgb = Array.from({ length: 256 * 3 }, (_, k) => (k * 37 + i * 11) % 256);
      await writeSemanticSample(path.join(dataDir, "cityscapes-mini"), `img${i}`, 16, 16, rgb, label);
    }
    const classes = ["road", "building", "vegetation", "car"].map((name, id) => ({ id, name, isThing: name === "car" }));
    datasetId = (await server.ok(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, {
      i: { name: "Cityscapes-mini", taskId, domain: "Cityscapes", format: "SEMANTIC_PNG", location: path.join(dataDir, "cityscapes-mini"), classes },
    })).createDataset.id;
    const gta = (await server.ok(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, {
      i: { name: "GTA5", taskId, domain: "GTA5", split: "train", format: "SEMANTIC_PNG", location: "/data/gta5", classes, verify: false },
    })).createDataset.id;
    const backbone = (await server.ok(`mutation { createBackbone(input: { name: "MiT-B5", family: "SegFormer", parameterPrefix: "backbone." }) { id } }`)).createBackbone.id;
    const common = { backboneId: backbone, sourceDatasetId: gta, targetDatasetId: datasetId, architecture: "SegFormer" };

    await register("daformer-gta-s1", 1, { ...common, udaStrategy: "DAFormer", tags: ["seed1"] });
    await register("daformer-gta-s2", 2, { ...common, udaStrategy: "DAFormer", tags: ["seed2"] });
    await register("hrda-synthia-s3", 3, { ...common, udaStrategy: "HRDA", tags: ["seed3"] });
    await register("segformer-wide-head", 4, { ...common, udaStrategy: "DACS" }, "B");
    // A pre-trained parent (no weights) and an earlier merge, so the lineage has both kinds of edge.
    ids.pretrained = (await server.ok(`mutation { createModel(input: { name: "mit-b5-imagenet", taskId: "${taskId}", origin: IMPORTED }) { id } }`)).createModel.id;
    await server.ok(`mutation($p: ID!, $c: ID!) { addLineageEdge(input: { parentId: $p, childId: $c, relation: FINETUNED_FROM }) { id } }`, { p: ids.pretrained, c: ids["daformer-gta-s1"] });
    const prior = await server.ok(`mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, {
      i: { anchorId: ids["daformer-gta-s1"], modelIds: [ids["hrda-synthia-s3"]], schedule: { kind: "COSINE" }, output: { name: "early-soup" } },
    });
    priorJobId = prior.startMerge.id;
    expect((await waitForJob(server, priorJobId)).status).toBe("SUCCEEDED");
    for (const name of ["daformer-gta-s1", "daformer-gta-s2", "hrda-synthia-s3"]) await evaluate(ids[name]);
    context = await contextPromise;
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await server?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test("filter models, open one, see its lineage, open a candidate, build and run a merge, find it on the leaderboard", async () => {
    const page = await context.newPage();
    const errors = watchErrors(page);

    // Models: the name filter reaches the URL and the table.
    await page.goto(`${server.origin}/`);
    await page.getByTestId("models-table").waitFor();
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement.textContent")).toBe("Skip to content");
    expect(await page.getByTestId("models-table").locator("tbody tr").count()).toBe(6);
    // No dataset chosen: scores are on the most used target (all four registered models target
    // Cityscapes-mini, none GTA5), each the model's own canonical score as the API gives it.
    await expect_(async () => /Score \(Cityscapes-mini\)/.test((await page.getByTestId("models-table").locator("thead").textContent()) ?? ""), "the score column on Cityscapes-mini");
    for (const name of ["daformer-gta-s1", "segformer-wide-head"]) {
      const { model } = await server.ok(`query($id: ID!, $d: ID!) { model(id: $id) { score(datasetId: $d) } }`, { id: ids[name], d: datasetId });
      const cells = await page.getByTestId("models-table").locator("tbody tr", { hasText: name }).first().locator("td").allTextContents();
      expect(cells[7]).toBe(model.score === null ? "—" : `${(model.score * 100).toFixed(1)} %`);
    }
    expect(await page.getByLabel("Score on").locator("option").first().textContent()).toBe("most used target (Cityscapes-mini)");
    await shot(page, "01-models");
    await page.getByLabel("Name contains").fill("gta");
    await page.waitForURL(/name=gta/);
    await expect_(async () => (await page.getByTestId("models-table").locator("tbody tr").count()) === 2, "two models named *gta*");
    await page.getByLabel("Origin").selectOption("TRAINED");
    await page.waitForURL(/origin=TRAINED/);
    await shot(page, "02-models-filtered");

    // A shared URL reopens the same filtered view.
    await page.goto(page.url());
    await expect_(async () => (await page.getByTestId("models-table").locator("tbody tr").count()) === 2, "the filtered table after a reload");
    expect(await page.getByLabel("Name contains").inputValue()).toBe("gta");

    // Model: overview, evaluations (per-class bars), lineage graph.
    await page.getByRole("link", { name: "daformer-gta-s1" }).click();
    await page.getByRole("heading", { level: 1, name: /daformer-gta-s1/ }).waitFor();
    await page.getByRole("heading", { name: "Inference contract" }).waitFor();
    await shot(page, "03-model-overview");
    await page.getByRole("link", { name: "Evaluations" }).click();
    await page.getByText("IoU per class").waitFor();
    expect(await page.locator("table.bars tbody tr").count()).toBe(4);
    await shot(page, "04-model-evaluations");
    // Structure: groups and a searchable tensor list (7 tensors: 5 in backbone, 2 in decode_head).
    const tensorSearches: string[] = [];
    page.on("request", (r) => {
      const body = r.postData() ?? "";
      if (body.includes("query Tensors(")) tensorSearches.push(JSON.parse(body).variables.name);
    });
    await page.getByRole("link", { name: "Structure" }).click();
    await page.getByTestId("tensor-table").waitFor();
    expect(await page.getByTestId("tensor-table").locator("tbody tr").count()).toBe(7);
    await page.getByLabel("Search names").fill("bias");
    await expect_(async () => (await page.getByTestId("tensor-table").locator("tbody tr").count()) === 3, "the three biases");
    await page.getByText("1–3 of 3 tensors whose name contains “bias”").waitFor();
    // The server searches (Structure.tensors nameContains) over every tensor, not the page in hand.
    expect(tensorSearches).toContain("bias");
    await page.getByLabel("Search names").fill("nothing-like-this");
    await page.getByText("No tensor has a name containing “nothing-like-this”.").waitFor();
    await page.getByLabel("Search names").fill("bias");
    await expect_(async () => (await page.getByTestId("tensor-table").locator("tbody tr").count()) === 3, "the three biases again");
    expect(new URL(page.url()).searchParams.get("q")).toBe("bias");
    await page.getByRole("button", { name: "decode_head" }).click();
    await expect_(async () => (await page.getByTestId("tensor-table").locator("tbody tr").count()) === 1, "decode_head's bias");
    await page.getByLabel("Search names").fill("");
    await expect_(async () => (await page.getByTestId("tensor-table").locator("tbody tr").count()) === 2, "decode_head's two tensors");
    await shot(page, "04b-model-structure");
    await page.getByRole("link", { name: "Lineage" }).click();
    await page.getByTestId("lineage-node").first().waitFor();
    const nodeLabels = await page.getByTestId("lineage-node").evaluateAll((nodes) => nodes.map((n) => n.getAttribute("aria-label") ?? ""));
    expect(nodeLabels.map((l) => l.split(" version")[0]).sort()).toEqual(["daformer-gta-s1", "early-soup", "mit-b5-imagenet"]);
    const edgeLabels = await page.getByTestId("lineage-edge").allTextContents();
    expect(edgeLabels.some((l) => /^merged w=0\.\d{3}$/.test(l))).toBe(true);
    expect(edgeLabels).toContain("finetuned");
    await shot(page, "05-model-lineage");
    // Only ancestors: the merge child disappears.
    await page.getByLabel("Direction").selectOption("ANCESTORS");
    await expect_(async () => (await page.getByTestId("lineage-node").count()) === 2, "ancestors only");
    // Nodes are links, reachable by keyboard: Enter on the merged child opens it and its recipe.
    await page.getByLabel("Direction").selectOption("BOTH");
    await page.locator('[data-testid="lineage-node"][aria-label^="early-soup"]').focus();
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { level: 1, name: /early-soup/ }).waitFor();
    await page.getByRole("link", { name: "Merge recipe" }).click();
    await page.getByText(/w\(l\) over 4 layers/).waitFor();
    await shot(page, "06-merged-model-recipe");

    // Candidates of the first model; open one.
    await page.goto(`${server.origin}/models/${ids["daformer-gta-s1"]}?tab=candidates`);
    await page.getByTestId("candidates-table").waitFor();
    const candidateNames = await page.getByTestId("candidate-link").allTextContents();
    expect(candidateNames).toEqual(expect.arrayContaining(["daformer-gta-s2", "hrda-synthia-s3"]));
    await shot(page, "07-model-candidates");
    await page.getByTestId("candidate-link").filter({ hasText: "daformer-gta-s2" }).click();
    await page.getByRole("heading", { level: 1, name: /daformer-gta-s2/ }).waitFor();

    // Merge builder with this candidate as the anchor.
    await page.getByRole("link", { name: "Merge with this model as anchor" }).click();
    await page.getByTestId("anchor-name").waitFor();
    await page.locator("li", { hasText: "daformer-gta-s1" }).getByTestId("contributor-checkbox").check();
    await page.locator("li", { hasText: "hrda-synthia-s3" }).getByTestId("contributor-checkbox").check();
    await page.getByLabel("Name", { exact: true }).fill("ui-soup");
    await page.getByLabel("Tags (comma-separated)").fill("from-ui");
    await expect_(async () => (await page.getByTestId("plan-merged").textContent()) === "7", "the plan to merge 7 tensors");
    // LINEAR schedule with N = 3 over L = 4 layers: w_a(0) = 1/3 and w_a(3) = 1 (docs/CONVENTIONS.md).
    // The legend says the means.
    expect(await page.getByTestId("merge-plan").textContent()).toMatch(/daformer-gta-s2 \(anchor, mean 0\.\d{3}\)/);
    await shot(page, "08-merge-builder");
    await page.getByRole("button", { name: /Start merge of 3 models/ }).click();
    await page.waitForURL(/job=/);
    await page.locator('[data-testid="job-panel"][data-status="SUCCEEDED"]').waitFor({ timeout: 30_000 });
    expect(await page.getByRole("progressbar").getAttribute("aria-valuenow")).toBe("100");
    await shot(page, "09-merge-done");
    await page.getByTestId("job-result").click();
    await page.getByRole("heading", { level: 1, name: /ui-soup/ }).waitFor();
    const mergedId = new URL(page.url()).pathname.split("/").pop()!;

    // Evaluate the merged model through the API, then find it on the leaderboard with its gain.
    await evaluate(mergedId);
    await page.goto(`${server.origin}/leaderboard?dataset=${datasetId}`);
    await page.getByTestId("leaderboard").waitFor();
    const row = page.getByTestId("leaderboard").locator("tbody tr", { hasText: "ui-soup" });
    await row.waitFor();
    expect(await row.textContent()).toMatch(/merged · layerwise/);
    // The gain worked out here from the models' own scores: merged − the best of its three inputs, in points.
    const scores: Record<string, number> = {};
    for (const [name, id] of Object.entries({ ...ids, "ui-soup": mergedId })) {
      const { model } = await server.ok(`query($id: ID!, $d: ID!) { model(id: $id) { score(datasetId: $d) } }`, { id, d: datasetId });
      if (model.score !== null) scores[name] = model.score;
    }
    const parents = ["daformer-gta-s2", "daformer-gta-s1", "hrda-synthia-s3"].sort((a, b) => scores[b] - scores[a]);
    const gain = (scores["ui-soup"] - scores[parents[0]]) * 100;
    const sign = gain > 0 ? "+" : gain < 0 ? "−" : "±";
    expect(await row.getByTestId("gain").textContent()).toBe(`${sign}${Math.abs(gain).toFixed(2)} pt vs ${parents[0]} (${(scores[parents[0]] * 100).toFixed(1)} %)`);
    expect(await page.getByTestId("leaderboard").locator("tbody tr").count()).toBe(4);
    await shot(page, "10-leaderboard");

    // Jobs: every merge and evaluation, finished.
    await page.goto(`${server.origin}/jobs`);
    await page.getByTestId("jobs-table").waitFor();
    expect(await page.getByTestId("jobs-table").locator("tbody tr").count()).toBe(6);
    await shot(page, "11-jobs");

    // The explorer, bundled and offline.
    // GraphiQL ignores a run before its schema (introspection) has arrived.
    const schemaLoaded = page.waitForResponse((r) => r.url().endsWith("/graphql") && /IntrospectionQuery/.test(r.request().postData() ?? ""));
    await page.goto(`${server.origin}/graphiql`);
    await schemaLoaded;
    await page.locator(".graphiql-container").waitFor();
    await page.locator(".graphiql-execute-button").click();
    await expect_(async () => /"totalCount": 7/.test((await page.locator(".graphiql-response").textContent()) ?? ""), "the explorer's answer");
    await shot(page, "12-graphiql");

    // A narrow screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${server.origin}/models/${ids["daformer-gta-s1"]}?tab=lineage`);
    await page.getByTestId("lineage-node").first().waitFor();
    await shot(page, "13-narrow-lineage");
    await page.goto(`${server.origin}/models?name=gta`);
    await page.getByTestId("models-table").waitFor();
    await shot(page, "14-narrow-models");
    await page.close();
    expect(errors).toEqual([]);
  });

  test("job progress follows jobUpdated over the socket, and polling when the socket fails", async () => {
    // Over the socket: the panel believes the job runs; the end arrives as a jobUpdated frame,
    // then job(id) is asked once more for the result — no polling in between.
    const page = await context.newPage();
    const errors = watchErrors(page);
    const frames = recordSocketFrames(page);
    const jobQueries = await pretendFirstJobAnswerRunning(page);
    await page.goto(`${server.origin}/jobs?job=${priorJobId}`);
    const panel = page.locator('[data-testid="job-panel"]');
    await page.locator('[data-testid="job-panel"][data-status="SUCCEEDED"]').waitFor();
    expect(await panel.getByRole("progressbar").getAttribute("aria-valuenow")).toBe("100");
    await panel.getByTestId("job-result").waitFor();
    expect(await panel.getByTestId("job-result").textContent()).toMatch(/^early-soup@/);
    expect(frames.some((f) => JOB_SUCCEEDED_FRAME.test(f))).toBe(true);
    await page.waitForTimeout(1000);
    expect(jobQueries()).toBe(2);
    await page.close();
    expect(errors).toEqual([]);

    // The jobs list follows its running rows the same way: the first list answer says the job
    // runs; the end comes over the socket (no job panel is open, so the frame is the list's own).
    const list = await context.newPage();
    const listErrors = watchErrors(list);
    const listFrames = recordSocketFrames(list);
    let listQueries = 0;
    await list.route("**/graphql", async (route) => {
      if (!(route.request().postData() ?? "").includes("query Jobs(")) return route.continue();
      listQueries += 1;
      if (listQueries > 1) return route.continue();
      const response = await route.fetch();
      const body = await response.json();
      const node = body.data.jobs.edges.find((e: { node: { id: string } }) => e.node.id === priorJobId).node;
      Object.assign(node, { status: "RUNNING", progress: 0, model: null, finishedAt: null });
      return route.fulfill({ response, json: body });
    });
    await list.goto(`${server.origin}/jobs`);
    const row = list.getByTestId("jobs-table").locator("tbody tr", { hasText: priorJobId.slice(0, 8) });
    await row.getByRole("progressbar").and(list.locator('[aria-valuetext="100 % succeeded"]')).waitFor();
    await row.getByRole("link", { name: /^early-soup@/ }).waitFor();
    expect(listFrames.some((f) => JOB_SUCCEEDED_FRAME.test(f))).toBe(true);
    await list.close();
    expect(listErrors).toEqual([]);

    // Socket refused: the same panel reaches the end by polling job(id).
    const polled = await context.newPage();
    const polledErrors = watchErrors(polled);
    const warnings: string[] = [];
    polled.on("console", (m) => { if (m.type() === "warning") warnings.push(m.text()); });
    await polled.routeWebSocket(/\/graphql$/, (ws) => ws.close({ code: 4500, reason: "no sockets here" }));
    const polledQueries = await pretendFirstJobAnswerRunning(polled);
    await polled.goto(`${server.origin}/jobs?job=${priorJobId}`);
    const polledPanel = polled.locator('[data-testid="job-panel"]');
    await polled.locator('[data-testid="job-panel"][data-status="SUCCEEDED"]').waitFor();
    expect(await polledPanel.getByRole("progressbar").getAttribute("aria-valuenow")).toBe("100");
    await polledPanel.getByTestId("job-result").waitFor();
    expect(polledQueries()).toBeGreaterThanOrEqual(2);
    expect(warnings.some((w) => /live updates of job .* unavailable .*; polling instead/.test(w))).toBe(true);
    await shot(polled, "11b-job-polled");
    await polled.close();
    expect(polledErrors).toEqual([]);
  });

  test("the web routes: client routes get the app, API paths are untouched, assets are cached for good", async () => {
    const html = await fetch(`${server.origin}/models/123?tab=lineage`, { headers: { accept: "text/html" } });
    expect(html.status).toBe(200);
    expect(html.headers.get("cache-control")).toBe("no-cache");
    const body = await html.text();
    expect(body).toContain('<div id="root">');
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(body)![1];
    const js = await fetch(`${server.origin}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect((await fetch(`${server.origin}/assets/nope-123.js`)).status).toBe(404);
    expect((await fetch(`${server.origin}/graphiql`)).headers.get("content-type")).toMatch(/text\/html/);
    const api = await server.gql(`{ viewer { role } }`);
    expect(api.data).toEqual({ viewer: { role: "ADMIN" } });
    expect((await fetch(`${server.origin}/artifacts/${"0".repeat(64)}`, { headers: { accept: "text/html" } })).status).toBe(404);
  });
});

describeBrowser("dashboard with tokens required (LAYERMERGE_AUTH=all)", () => {
  let server: TestServer;
  let context: BrowserContext;
  const tokens: Record<string, string> = {};
  const ids: string[] = [];

  beforeAll(async () => {
    ensureWebBuild();
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    server = await startTestServer("sqlite", { LAYERMERGE_AUTH: "all" });
    const contextPromise = launch();
    tokens.reader = (await server.app.services.tokens.create({ name: "ann", role: "READER" })).token;
    tokens.writer = (await server.app.services.tokens.create({ name: "bob", role: "WRITER" })).token;
    const taskId = (await server.ok(`mutation { createTask(input: { key: "semantic", name: "Semantic", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`, {}, { token: tokens.writer })).createTask.id;
    for (const seed of [1, 2]) {
      const { body } = await upload(server.origin, buildSegNet({ seed }).bytes, tokens.writer);
      const { registerModel } = await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: `net-${seed}`, taskId, artifactSha256: body.sha256 } }, { token: tokens.writer });
      ids.push(registerModel.id);
    }
    context = await contextPromise;
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await server?.stop();
  });

  test("asks for a token, keeps it for the session, and disables what the role may not do, saying why", async () => {
    const page = await context.newPage();
    // The browser logs the 401 answers this test provokes on purpose; they are not page errors.
    const errors = watchErrors(page, /status of 401/);
    await page.goto(`${server.origin}/merge?anchor=${ids[0]}&with=${ids[1]}`);
    const dialog = page.getByRole("dialog", { name: "API token" });
    await dialog.waitFor();
    expect(await dialog.textContent()).toMatch(/requires an API token/);
    await shot(page, "20-auth-token-dialog");
    await page.getByLabel("Token", { exact: true }).fill(tokens.reader);
    await page.getByRole("button", { name: "Use token" }).click();
    await expect_(async () => (await page.getByTestId("viewer").textContent()) === "ann · reader", "the reader viewer");
    const start = page.getByRole("button", { name: /Start merge/ });
    await page.getByTestId("merge-plan").waitFor();
    expect(await start.isDisabled()).toBe(true);
    expect(await page.locator("#start-merge-why").textContent()).toMatch(/Your token \(ann\) has role READER; this needs role WRITER or higher\./);
    await shot(page, "21-auth-reader-disabled");

    // The token survives a reload (sessionStorage), and a WRITER token enables the action.
    await page.reload();
    await expect_(async () => (await page.getByTestId("viewer").textContent()) === "ann · reader", "the reader after a reload");
    await page.getByRole("button", { name: "Change token" }).click();
    await page.getByLabel("Token", { exact: true }).fill(tokens.writer);
    await page.getByRole("button", { name: "Use token" }).click();
    await expect_(async () => (await page.getByTestId("viewer").textContent()) === "bob · writer", "the writer viewer");
    await expect_(async () => !(await start.isDisabled()), "the start button enabled");

    // The socket authenticates with the token in its connection parameters: without it the
    // server refuses the socket and jobUpdated frames never come.
    const { startMerge } = await server.ok(`mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, { i: { anchorId: ids[0], modelIds: [ids[1]], output: { name: "token-soup" } } }, { token: tokens.writer });
    await expect_(async () => (await server.ok(`query($id: ID!) { job(id: $id) { status } }`, { id: startMerge.id }, { token: tokens.writer })).job.status === "SUCCEEDED", "the token-soup merge", 30_000);
    const frames = recordSocketFrames(page);
    await pretendFirstJobAnswerRunning(page);
    await page.goto(`${server.origin}/jobs?job=${startMerge.id}`);
    await page.locator('[data-testid="job-panel"][data-status="SUCCEEDED"]').waitFor();
    await expect_(async () => frames.some((f) => JOB_SUCCEEDED_FRAME.test(f)), "a jobUpdated frame on the token's socket");
    await page.close();
    expect(errors).toEqual([]);
  });
});

