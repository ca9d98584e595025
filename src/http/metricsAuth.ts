import type { IncomingMessage, ServerResponse } from "node:http";
import { createHash, timingSafeEqual } from "node:crypto";

/**
 * The rule for /metrics, on the API and on a worker's metrics port: open when no token is
 * configured (LAYERMERGE_METRICS_TOKEN unset), otherwise only for `Authorization: Bearer <token>`.
 * Metrics are for a scraper, not for API users, so API tokens do not open them. Compared in
 * constant time over the sha256 of both sides (equal lengths, whatever was sent).
 */
export function metricsAuthorized(token: string | null, authorization: string | string[] | undefined): boolean {
  if (token === null) return true;
  const header = Array.isArray(authorization) ? authorization[0] : authorization;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  if (!match) return false;
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(match[1]), digest(token));
}

/**
 * Answers 401 (with WWW-Authenticate) and returns false when the request may not read the
 * metrics; works for Express's and node:http's requests alike.
 */
export function checkMetricsAuth(token: string | null, req: IncomingMessage, res: ServerResponse): boolean {
  if (metricsAuthorized(token, req.headers.authorization)) return true;
  res.statusCode = 401;
  res.setHeader("WWW-Authenticate", 'Bearer realm="metrics"');
  res.setHeader("Content-Type", "text/plain; charset=utf-8");
  res.end("metrics need Authorization: Bearer <LAYERMERGE_METRICS_TOKEN>\n");
  return false;
}
