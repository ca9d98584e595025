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
