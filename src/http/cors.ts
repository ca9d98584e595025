import type { RequestHandler } from "express";

/**
 * CORS is closed unless LAYERMERGE_CORS_ORIGINS lists origins: a browser page served elsewhere
 * then may call the API (with the Authorization header).
 */
export function cors(origins: string[]): RequestHandler {
  const any = origins.includes("*");
  const allowed = new Set(origins);
  return (req, res, next) => {
    const origin = req.headers.origin;
    if (origin && (any || allowed.has(origin))) {
      res.setHeader("Access-Control-Allow-Origin", any ? "*" : origin);
      res.setHeader("Vary", "Origin");
      res.setHeader("Access-Control-Allow-Headers", "Authorization, Content-Type, Range, Apollo-Require-Preflight");
      res.setHeader("Access-Control-Allow-Methods", "GET, POST, PUT, HEAD, OPTIONS");
      res.setHeader("Access-Control-Expose-Headers", "Content-Length, Content-Range, Accept-Ranges");
      res.setHeader("Access-Control-Max-Age", "600");
    }
    if (req.method === "OPTIONS") {
      res.status(204).end();
      return;
    }
    next();
  };
}

/**
 * Whether a browser page from `origin` may use the API where the browser does not enforce CORS
 * (WebSockets): the page's own server (the Origin's host and port equal the Host header) or an
 * origin listed in LAYERMERGE_CORS_ORIGINS. No Origin header: not a browser (the CLI, scripts),
 * allowed — authentication still applies.
 */
export function originAllowed(origin: string | undefined, host: string | undefined, origins: string[]): boolean {
  if (origin === undefined) return true;
  if (origins.includes("*") || origins.includes(origin)) return true;
  let page: URL;
  let server: URL;
  try {
    page = new URL(origin);
    if (page.protocol !== "http:" && page.protocol !== "https:") return false;
    // The Host header carries no scheme: read it with the page's, so default ports compare equal.
    server = new URL(`${page.protocol}//${host ?? ""}`);
  } catch {
    return false; // "null" (sandboxed frames, file:), or a malformed header
  }
  return Boolean(host) && page.hostname === server.hostname && page.port === server.port;
}
