import { GraphQLError, GraphQLFormattedError } from "graphql";
import { unwrapResolverError } from "@apollo/server/errors";
import { DomainError } from "../core/errors";
import type { Logger } from "../logging";

/**
 * The one place where errors become client-facing, over HTTP and the WebSocket alike:
 * DomainErrors keep their message and code (plus the offending field); GraphQL's own errors
 * (parse, validation, variable coercion, the limits) pass through with their codes; anything
 * else is a bug or an outage — logged in full for operators, masked for clients. Stack traces
 * (which show server paths) leave the server only with `debug` (LAYERMERGE_DEBUG=1).
 */
export function createFormatError(logger: Logger, options: { debug?: boolean } = {}) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (original instanceof DomainError) {
      return {
        message: original.message,
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code: original.code, ...(original.field ? { field: original.field } : {}), ...(original.details ?? {}) },
      };
    }
    if (original instanceof GraphQLError && formatted.extensions?.code !== "INTERNAL_SERVER_ERROR") return clientFacing(formatted, options.debug);
    logger.error({ err: original, path: formatted.path }, "unexpected error while resolving a GraphQL request");
    return { message: "Internal server error", locations: formatted.locations, path: formatted.path, extensions: { code: "INTERNAL_SERVER_ERROR" } };
  };
}

/** Drops what is for the server only: `http` (Apollo's status hint) and, unless debugging, the stack trace. */
function clientFacing(formatted: GraphQLFormattedError, debug = false): GraphQLFormattedError {
  const extensions = formatted.extensions;
  if (!extensions || (!("http" in extensions) && (debug || !("stacktrace" in extensions)))) return formatted;
  const { http: _http, stacktrace, ...rest } = extensions;
  return { ...formatted, extensions: { ...rest, ...(debug && stacktrace ? { stacktrace } : {}) } };
}
