import * as fs from "node:fs";
import * as path from "node:path";
import express, { type Request, type Response, Router } from "express";

/** web/dist from both src/http (tests, ts) and dist/http (compiled): two levels up, then web/dist. */
export const DEFAULT_WEB_DIST = path.resolve(__dirname, "..", "..", "web", "dist");

/** Paths that belong to the API; the dashboard's client-side routes never shadow them. */
const API_PREFIXES = ["/graphql", "/artifacts", "/healthz", "/metrics"];

const MISSING_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>layermerge: dashboard not built</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;line-height:1.5}code{background:#eef1f6;padding:0.1rem 0.3rem}</style></head>
<body><h1>The dashboard has not been built</h1>
<p>The registry is running and its GraphQL API answers at <a href="/graphql">/graphql</a>, but the web dashboard's files (<code>web/dist</code>) are missing.</p>
<p>Build them with <code>npm run build:web</code> (it also runs as part of <code>npm install</code>), then reload this page.</p>
</body></html>`;

/**
 * The dashboard: hashed assets under /assets with a year-long immutable cache (their names change
 * with their content), the GraphQL explorer at /graphiql, and index.html for every other GET that
 * asks for HTML, so client-side routes (/models/42) survive a reload or a shared link. HTML itself
 * is never cached, so a rebuilt dashboard is picked up at once.
 */
export function webRoutes(options: { distDir?: string } = {}): Router {
  const distDir = options.distDir ?? DEFAULT_WEB_DIST;
  const router = Router();

  const sendHtml = (res: Response, file: string) => {
    const full = path.join(distDir, file);
    if (!fs.existsSync(full)) {
      res.status(503).set("Cache-Control", "no-store").type("html").send(MISSING_PAGE);
      return;
    }
    res.set("Cache-Control", "no-cache");
    res.sendFile(full);
  };

  router.use(
    "/assets",
    express.static(path.join(distDir, "assets"), {
      index: false,
      fallthrough: false,
      immutable: true,
      maxAge: "365d",
    }),
  );
  router.get(["/graphiql", "/graphiql/"], (_req, res) => sendHtml(res, "graphiql.html"));
  router.use((req: Request, res: Response, next) => {
    if (req.method !== "GET" && req.method !== "HEAD") return next();
    if (API_PREFIXES.some((prefix) => req.path === prefix || req.path.startsWith(`${prefix}/`))) return next();
    // A missing file (favicon.png, robots.txt) is a 404, not the app shell.
    if (path.extname(req.path) && req.path !== "/index.html") return next();
    if (!req.accepts("html")) return next();
    sendHtml(res, "index.html");
  });
  return router;
}
