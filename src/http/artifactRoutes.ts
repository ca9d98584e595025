import { Router, Request, Response, NextFunction } from "express";
import { DomainError } from "../core/errors";
import { Role, ROLE_RANK } from "../domain/enums";
import type { Config } from "../config/config";
import type { Services } from "../services/services";
import type { Logger } from "../logging";
import { SHA256_PATTERN } from "../storage/artifactStore";
import { authenticate } from "./authenticate";

const STATUS: Record<string, number> = { BAD_USER_INPUT: 400, UNAUTHENTICATED: 401, FORBIDDEN: 403, NOT_FOUND: 404, CONFLICT: 409, PAYLOAD_TOO_LARGE: 413 };

/**
 * Artifact upload and download beside GraphQL (large bodies do not belong in JSON):
 * PUT /artifacts streams into the content-addressed store → 201 {sha256, sizeBytes};
 * GET /artifacts/{sha256} streams back (single byte ranges supported); HEAD tells whether the
 * store holds it. PUT follows the mutation rules, GET/HEAD the query rules.
 */
export function artifactRoutes(config: Config, services: Services, logger: Logger): Router {
  const router = Router();
  const requireRole = (role: Role) => async (req: Request, _res: Response, next: NextFunction) => {
    try {
      const viewer = await authenticate(req.headers, config.auth, services.tokens);
      if (ROLE_RANK[viewer.role] < ROLE_RANK[role]) {
        throw new DomainError(viewer.anonymous ? "UNAUTHENTICATED" : "FORBIDDEN", `this needs an API token with role ${role} or higher`);
      }
      next();
    } catch (error) {
      next(error);
    }
  };

  router.put("/artifacts", requireRole(Role.WRITER), async (req, res, next) => {
    try {
      const declared = Number(req.headers["content-length"]);
      if (Number.isFinite(declared) && declared > config.maxUploadBytes) {
        // Refuse before reading the body; the client learns the limit at once.
        res.setHeader("Connection", "close");
        throw new DomainError("PAYLOAD_TOO_LARGE", `the upload (${declared} bytes) exceeds the limit of ${config.maxUploadBytes} bytes (LAYERMERGE_MAX_UPLOAD_BYTES)`);
      }
      const blob = await services.store.put(req, { maxBytes: config.maxUploadBytes });
      res.status(201).json({ sha256: blob.sha256, sizeBytes: blob.sizeBytes, created: blob.created });
    } catch (error) {
      if ((error as DomainError).code === "PAYLOAD_TOO_LARGE") res.setHeader("Connection", "close");
      next(error);
    }
  });

  const findBlob = async (req: Request) => {
    const sha256 = String(req.params.sha256).toLowerCase();
    if (!SHA256_PATTERN.test(sha256)) throw new DomainError("BAD_USER_INPUT", "the path must end in a sha256 (64 hex digits)");
    const info = await services.store.stat(sha256);
    if (!info) throw new DomainError("NOT_FOUND", `no artifact with sha256 ${sha256}`);
    return info;
  };

  router.head("/artifacts/:sha256", requireRole(Role.READER), async (req, res, next) => {
    try {
      const info = await findBlob(req);
      res.setHeader("Content-Length", String(info.sizeBytes));
      res.setHeader("Accept-Ranges", "bytes");
      res.setHeader("ETag", `"${info.sha256}"`);
      res.status(200).end();
    } catch (error) {
      if (error instanceof DomainError) {
        res.status(STATUS[error.code] ?? 400).end();
        return;
      }
      next(error);
    }
  });

  router.get("/artifacts/:sha256", requireRole(Role.READER), async (req, res, next) => {
    try {
      const info = await findBlob(req);
      const range = parseRange(req.headers.range, info.sizeBytes);
      res.setHeader("Accept-Ranges", "bytes");
      res.setHeader("ETag", `"${info.sha256}"`);
      res.setHeader("Content-Type", "application/octet-stream");
      res.setHeader("Cache-Control", "public, max-age=31536000, immutable");
      if (range === "unsatisfiable") {
        res.setHeader("Content-Range", `bytes */${info.sizeBytes}`);
        res.status(416).end();
        return;
      }
      if (range) {
        res.status(206);
        res.setHeader("Content-Range", `bytes ${range.start}-${range.end}/${info.sizeBytes}`);
        res.setHeader("Content-Length", String(range.end - range.start + 1));
      } else {
        res.setHeader("Content-Length", String(info.sizeBytes));
      }
      const stream = await services.store.read(info.sha256, range ?? undefined);
      stream.on("error", (error) => {
        logger.error({ err: error, sha256: info.sha256 }, "artifact read failed mid-stream");
        res.destroy(error);
      });
      stream.pipe(res);
    } catch (error) {
      next(error);
    }
  });

  router.use("/artifacts", (error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof DomainError) {
      res.status(STATUS[error.code] ?? 400).json({ error: { code: error.code, message: error.message } });
      return;
    }
    logger.error({ err: error }, "artifact request failed");
    res.status(500).json({ error: { code: "INTERNAL_SERVER_ERROR", message: "Internal server error" } });
  });
  return router;
}

/** A single `bytes=a-b`, `bytes=a-` or `bytes=-n` range; multiple ranges are served whole. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | "unsatisfiable" {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === "" && match[2] === "")) return null;
  let start: number;
  let end: number;
  if (match[1] === "") {
    const suffix = Number(match[2]);
    if (suffix === 0) return "unsatisfiable";
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  if (start >= size || start > end) return "unsatisfiable";
  return { start, end };
}
