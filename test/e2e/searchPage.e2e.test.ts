import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { chromium, type BrowserContext } from "playwright-core";
import { startTestServer, type TestServer } from "../support/testServer";
import { upload } from "../support/http";
import { waitForJob } from "../support/jobs";
import { blocks, twoLayerNet } from "../support/searchFixtures";
import { writeOnnxModel } from "../../src/core/formats/onnx/testing/onnxModelWriter";

/*
 * The merge search page in Debian's Chromium against a real server: the list of searches, one
 * search's ranked table and its objective/audit scatter plot. Skips when Chromium is missing
 * outside CI, like the dashboard suite.
 */
const CHROMIUM = process.env.LAYERMERGE_CHROMIUM ?? "/usr/bin/chromium";
const ROOT = path.resolve(__dirname, "..", "..");
const describeBrowser = fs.existsSync(CHROMIUM) || process.env.CI ? describe : describe.skip;
const CLASSES = [{ id: 0, name: "red", isThing: false }, { id: 1, name: "green", isThing: false }, { id: 2, name: "blue", isThing: true }];
const CONTRACT = { inputName: "image", width: 4, height: 4, resize: { mode: "FIXED" }, channelOrder: "RGB", mean: [120, 120, 120], std: [60, 60, 60], outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" }] };

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) newest = Math.max(newest, e.isDirectory() ? newestMtime(path.join(dir, e.name)) : fs.statSync(path.join(dir, e.name)).mtimeMs);
  return newest;
}

/** The built dashboard, rebuilt (production mode, as shipped) when older than its sources. */
function ensureWebBuild(): void {
  const built = path.join(ROOT, "web", "dist", "index.html");
  if (fs.existsSync(built) && fs.statSync(built).mtimeMs >= newestMtime(path.join(ROOT, "web", "src"))) return;
  const vite = path.join(path.dirname(require.resolve("vite/package.json")), "bin", "vite.js");
  execFileSync(process.execPath, [vite, "build", "--config", path.join(ROOT, "web", "vite.config.mts")], { cwd: ROOT, stdio: "inherit", env: { ...process.env, NODE_ENV: "production" } });
}

describeBrowser("merge search page in Chromium", () => {
  jest.setTimeout(240_000);
  let server: TestServer;
  let context: BrowserContext;
  let root: string;

  beforeAll(async () => {
    ensureWebBuild();
    root = fs.mkdtempSync(path.join(os.tmpdir(), "lm-search-page-"));
    server = await startTestServer("sqlite", { LAYERMERGE_DATASET_ROOTS: root });
    context = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), "lm-chromium-")), {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
      viewport: { width: 1280, height: 800 },
    });
  });
  afterAll(async () => {
    await context?.close();
    await server?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  test("lists searches and shows one's ranked candidates, its verdict and the objective/audit scatter", async () => {
    const taskId = (await server.ok(`mutation { createTask(input: { key: "sem", name: "Semantic", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    await blocks(path.join(root, "labelled"));
    const create = async (name: string, format: string, location: string) =>
      (await server.ok(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, { i: { name, taskId, format, location, classes: CLASSES } })).createDataset.id as string;
    const labelled = await create("source", "SEMANTIC_PNG", path.join(root, "labelled"));
    const target = await create("target", "IMAGES", path.join(root, "labelled"));
    const pool: string[] = [];
    for (const seed of [11, 22, 33]) {
      const { body } = await upload(server.origin, writeOnnxModel(twoLayerNet(seed)).bytes);
      pool.push((await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: `m${seed}`, taskId, artifactSha256: body.sha256, inference: CONTRACT } })).registerModel.id);
    }
    const { startMergeSearch } = await server.ok(`mutation($i: MergeSearchInput!) { startMergeSearch(input: $i) { id mergeSearch { id } } }`, { i: { modelIds: pool, objective: { kind: "INFO_MAX", datasetId: target }, audit: { datasetId: labelled } } });
    expect((await waitForJob(server, startMergeSearch.id)).status).toBe("SUCCEEDED");

    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    await page.goto(`${server.origin}/searches`);
    await page.getByTestId("search-list").getByRole("button", { name: /INFO_MAX over 3 models · 16 candidates/ }).click();
    await page.getByTestId("search-summary").waitFor();
    expect(page.url()).toContain(`search=${startMergeSearch.mergeSearch.id}`);
    expect(await page.getByTestId("search-summary").textContent()).toMatch(/16 candidates scored/);
    const rows = page.getByTestId("search-candidates").locator("tbody tr");
    expect(await rows.count()).toBe(16);
    expect((await rows.first().locator("td").first().textContent())?.trim()).toBe("1");
    expect(await rows.filter({ hasText: "alone" }).count()).toBe(3);
    expect(await page.getByTestId("search-scatter").locator("circle").count()).toBe(16);
    // a reload of the shared URL shows the same search
    await page.reload();
    await page.getByTestId("search-summary").waitFor();
    expect(errors).toEqual([]);
  });
});
