import type { ErrorRequestHandler, RequestHandler } from "express";
import type { Logger } from "../logging";

const CODE_BY_STATUS: Record<number, string> = { 400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE" };

/** Messages for body-parser's failures, in our words (its own echo parts of the body). */
const MESSAGE_BY_TYPE: Record<string, string> = {
  "entity.parse.failed": "the request body is not valid JSON",
  "entity.too.large": "the request body is too large",
  "encoding.unsupported": "the request body's encoding is not supported",
  "charset.unsupported": "the request body's charset is not supported",
  "request.aborted": "the request was aborted",
};

function send(req: Parameters<RequestHandler>[0], res: Parameters<RequestHandler>[1], status: number, code: string, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // GraphQL clients read `errors`; every other route answers { error: { code, message } }.
  const body = req.path === "/graphql" ? { errors: [{ message, extensions: { code } }] } : { error: { code, message } };
  res.status(status).json(body);
}

/** No route matched: JSON, not Express's HTML page. */
export function notFoundHandler(): RequestHandler {
  return (req, res) => send(req, res, 404, "NOT_FOUND", `no route for ${req.method} ${req.path}`);
}

/**
 * The last error handler: every error that reaches Express becomes JSON with a stable code.
 * Client errors (malformed JSON, over-size bodies, missing files) keep their 4xx status;
 * anything else is logged in full and answered 500 without details — never a stack trace or a
 * server path, whatever NODE_ENV says.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const status = Number((error as { status?: unknown; statusCode?: unknown })?.status ?? (error as { statusCode?: unknown })?.statusCode);
    if (Number.isInteger(status) && status >= 400 && status < 500) {
      const type = String((error as { type?: unknown }).type ?? "");
      const code = CODE_BY_STATUS[status] ?? "BAD_REQUEST";
      const limit = (error as { limit?: unknown }).limit;
      const message = type === "entity.too.large" && typeof limit === "number" ? `the request body exceeds the limit of ${limit} bytes` : MESSAGE_BY_TYPE[type];
      send(req, res, status, code, message ?? (status === 404 ? `no route for ${req.method} ${req.path}` : "the request was refused"));
      return;
    }
    logger.error({ err: error, method: req.method, path: req.path }, "request failed");
    send(req, res, 500, "INTERNAL_SERVER_ERROR", "Internal server error");
  };
}
