import * as net from "node:net";
import type { RequestHandler } from "express";
import type { Config } from "../config/config";

/** A loopback name or address: `localhost` (and `*.localhost`), 127.0.0.0/8, `::1`. */
export function isLoopbackAddress(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (bare === "localhost" || bare.endsWith(".localhost")) return true;
  if (net.isIPv4(bare)) return bare.startsWith("127.");
  return net.isIPv6(bare) && (bare === "::1" || bare === "0:0:0:0:0:0:0:1");
}

/**
 * Whether a request's Host header may reach an auth-off server listening on loopback, where
 * anyone who reaches it acts as ADMIN. A web page whose own host name its author points at
 * 127.0.0.1 (DNS rebinding) sends that name as Host and is same-origin for the browser, so
 * neither CORS nor the WebSocket's Origin check stops it; a Host that is not a loopback name
 * (nor the host of a LAYERMERGE_CORS_ORIGINS entry, for a local proxy) does. No Host header:
 * not a browser. With auth on, tokens decide.
 */
export function hostAllowed(hostHeader: string | undefined, config: Pick<Config, "auth" | "host" | "corsOrigins">): boolean {
  if (config.auth !== "off" || !isLoopbackAddress(config.host) || hostHeader === undefined) return true;
  let hostname: string;
  try {
    hostname = new URL(`http://${hostHeader}`).hostname;
  } catch {
    return false;
  }
  if (isLoopbackAddress(hostname)) return true;
  return config.corsOrigins.some((origin) => origin !== "*" && new URL(origin).hostname === hostname);
}

export const FOREIGN_HOST_MESSAGE =
  "with LAYERMERGE_AUTH=off this server answers loopback host names only (localhost, 127.0.0.1, [::1]) and those of LAYERMERGE_CORS_ORIGINS";

/** Refuses (403, JSON) the requests hostAllowed refuses. */
export function hostCheck(config: Pick<Config, "auth" | "host" | "corsOrigins">): RequestHandler {
  return (req, res, next) => {
    if (hostAllowed(req.headers.host, config)) return next();
    const body = req.path === "/graphql" ? { errors: [{ message: FOREIGN_HOST_MESSAGE, extensions: { code: "FORBIDDEN" } }] } : { error: { code: "FORBIDDEN", message: FOREIGN_HOST_MESSAGE } };
    res.status(403).json(body);
  };
}
