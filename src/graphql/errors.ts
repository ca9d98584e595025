import { GraphQLError, GraphQLFormattedError } from "graphql";
import { unwrapResolverError } from "@apollo/server/errors";
import { DomainError } from "../core/errors";
import type { Logger } from "../logging";
import type { ApolloServerPlugin } from "@apollo/server";
import { isDatabaseUnreachable } from "../persistence/databaseErrors";

/**
 * The one place where errors become client-facing: DomainErrors keep their message and code
 * (plus the offending field); GraphQL's own errors (parse, validation, variable coercion, the
 * limits plugin) pass through with their codes; anything else is a bug or an outage — logged
 * in full for operators, masked for clients.
 */
export function createFormatError(logger: Logger, databaseDown?: (error: unknown) => void) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    // The database itself is down: not a bug, and the request may succeed later. The outage is
    // logged once by the caller's outage log, not once per request with a stack.
    if (isDatabaseUnreachable(original)) {
      databaseDown?.(original);
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
    if (original instanceof GraphQLError && formatted.extensions?.code !== "INTERNAL_SERVER_ERROR") return formatted;
    logger.error({ err: original, path: formatted.path }, "unexpected error while resolving a GraphQL request");
    return { message: "Internal server error", locations: formatted.locations, path: formatted.path, extensions: { code: "INTERNAL_SERVER_ERROR" } };
  };
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
