import { GraphQLError, GraphQLFormattedError } from "graphql";
import { unwrapResolverError } from "@apollo/server/errors";
import { DomainError } from "../core/errors";
import type { Logger } from "../logging";
import type { ApolloServerPlugin } from "@apollo/server";
import { isDatabaseUnreachable } from "../persistence/databaseErrors";

/**
 * The one place where errors become client-facing, over HTTP and the WebSocket alike:
 * DomainErrors keep their message and code (plus the offending field); GraphQL's own errors
 * (parse, validation, variable coercion, the limits) pass through with their codes; anything
 * else is a bug or an outage — logged in full for operators, masked for clients. Stack traces
 * (which show server paths) leave the server only with `debug` (LAYERMERGE_DEBUG=1).
 */
export function createFormatError(logger: Logger, options: { debug?: boolean; databaseDown?: (error: unknown) => void } = {}) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    // The database itself is down: not a bug, and the request may succeed later. The outage is
    // logged once by the caller's outage log, not once per request with a stack.
    if (isDatabaseUnreachable(original)) {
      options.databaseDown?.(original);
      return { message: "the database is unreachable; try again shortly", locations: formatted.locations, path: formatted.path, extensions: { code: "SERVICE_UNAVAILABLE" } };
    }
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

/** A response carrying SERVICE_UNAVAILABLE is an HTTP 503, so clients and proxies retry it. */
export function serviceUnavailablePlugin(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          const errors = response.body.kind === "single" ? response.body.singleResult.errors : undefined;
          if (errors?.some((e) => e.extensions?.code === "SERVICE_UNAVAILABLE")) response.http.status = 503;
        },
      };
    },
  };
}
