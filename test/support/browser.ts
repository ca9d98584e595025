import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { chromium, type BrowserContext, type Page } from "playwright-core";

/*
 * What the browser tests share: Debian's Chromium through playwright-core, the built dashboard,
 * and a watch on page errors. A browser suite skips only when Chromium is missing on a
 * developer machine; in CI (CI set) a missing browser fails it.
 */
export const CHROMIUM = process.env.LAYERMERGE_CHROMIUM ?? "/usr/bin/chromium";
export const ROOT = path.resolve(__dirname, "..", "..");
export const SCREENSHOTS = path.join(ROOT, "test-artifacts", "screenshots");
export const haveBrowser = fs.existsSync(CHROMIUM);
if (!haveBrowser && !process.env.CI) {
  console.warn(`dashboard e2e tests skipped: ${CHROMIUM} is missing (apt-get install -y chromium). They run, and fail without it, when CI is set.`);
}
export const describeBrowser = haveBrowser || process.env.CI ? describe : describe.skip;

/** `describe` when the browser is there (or CI demands it), `describe.skip` with a warning otherwise. */
export function describeWithBrowser(suite: string): jest.Describe {
  if (!haveBrowser && !process.env.CI) {
    console.warn(`${suite} skipped: ${CHROMIUM} is missing (apt-get install -y chromium). They run, and fail without it, when CI is set.`);
  }
  return haveBrowser || process.env.CI ? describe : describe.skip;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

/** The built dashboard, rebuilt here when missing or older than its sources, so the test never checks stale pages. */
export function ensureWebBuild(): void {
  const built = path.join(ROOT, "web", "dist", "index.html");
  const fresh = fs.existsSync(built) && fs.existsSync(path.join(ROOT, "web", "dist", "graphiql.html")) && fs.statSync(built).mtimeMs >= newestMtime(path.join(ROOT, "web", "src"));
  if (fresh) return;
  const vite = path.join(path.dirname(require.resolve("vite/package.json")), "bin", "vite.js");
  // Jest sets NODE_ENV=test, which would make Vite bundle React's development build (StrictMode's
  // doubled effects and requests included): test what `npm run build:web` ships instead.
  execFileSync(process.execPath, [vite, "build", "--config", path.join(ROOT, "web", "vite.config.mts")], { cwd: ROOT, stdio: "inherit", env: { ...process.env, NODE_ENV: "production" } });
}

export async function launch(): Promise<BrowserContext> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "lm-chromium-"));
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    viewport: { width: 1280, height: 800 },
    // Screenshots show where a progress bar is, not where its animation has got to.
    reducedMotion: "reduce",
  });
}

/** Fails the test on any uncaught page error or console error (a broken page, not a slow one). */
export function watchErrors(page: Page, expected?: RegExp): string[] {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && !(expected && expected.test(message.text()))) errors.push(`console: ${message.text()}`);
  });
  return errors;
}

export const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });

/** Waits until `condition` holds (debounced filters, live queries), failing with `what` after `timeoutMs`. */
export async function eventually(condition: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The same wait under the name the dashboard suites use. */
export const expect_ = eventually;
