import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import express from "express";
import { webRoutes } from "../../src/http/webRoutes";

/** webRoutes on a bare Express app, over a hand-made dist folder (no build, no browser needed). */
async function serve(distDir: string): Promise<{ origin: string; close(): Promise<void> }> {
  const app = express();
  app.post("/graphql", (_req, res) => res.json({ data: { ok: true } }));
  app.use(webRoutes({ distDir }));
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { origin: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe("webRoutes", () => {
  let root: string;
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "lm-web-"));
    fs.mkdirSync(path.join(root, "dist", "assets"), { recursive: true });
    fs.writeFileSync(path.join(root, "dist", "index.html"), "<!doctype html><title>app shell</title>");
    fs.writeFileSync(path.join(root, "dist", "graphiql.html"), "<!doctype html><title>explorer</title>");
    fs.writeFileSync(path.join(root, "dist", "assets", "main-abc123.js"), "console.log(1)");
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test("without a build, / and client routes answer 503 saying how to build; the API is untouched", async () => {
    const web = await serve(path.join(root, "missing"));
    try {
      for (const route of ["/", "/models/7", "/graphiql"]) {
        const res = await fetch(`${web.origin}${route}`, { headers: { accept: "text/html" } });
        expect(res.status).toBe(503);
        expect(await res.text()).toContain("npm run build:web");
      }
      const api = await fetch(`${web.origin}/graphql`, { method: "POST" });
      expect(await api.json()).toEqual({ data: { ok: true } });
    } finally {
      await web.close();
    }
  });

  test("client routes get index.html, uncached; hashed assets are immutable; unknown files and API paths are not the app", async () => {
    const web = await serve(path.join(root, "dist"));
    try {
      for (const route of ["/", "/models/7?tab=lineage", "/leaderboard"]) {
        const res = await fetch(`${web.origin}${route}`, { headers: { accept: "text/html" } });
        expect(res.status).toBe(200);
        expect(res.headers.get("cache-control")).toBe("no-cache");
        expect(await res.text()).toContain("app shell");
      }
      expect(await (await fetch(`${web.origin}/graphiql`)).text()).toContain("explorer");
      const asset = await fetch(`${web.origin}/assets/main-abc123.js`);
      expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expect(await asset.text()).toBe("console.log(1)");
      expect((await fetch(`${web.origin}/assets/gone-000.js`)).status).toBe(404);
      expect((await fetch(`${web.origin}/robots.txt`)).status).toBe(404);
      // A JSON client asking a client route gets no HTML shell.
      expect((await fetch(`${web.origin}/models`, { headers: { accept: "application/json" } })).status).toBe(404);
      expect((await fetch(`${web.origin}/graphql`, { headers: { accept: "text/html" } })).status).toBe(404);
      expect((await fetch(`${web.origin}/artifacts/abc`, { headers: { accept: "text/html" } })).status).toBe(404);
    } finally {
      await web.close();
    }
  });
});
