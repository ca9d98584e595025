import { GraphQLError, GraphQLFormattedError } from "graphql";
import { unwrapResolverError } from "@apollo/server/errors";
import { DomainError } from "../core/errors";
import type { Logger } from "../logging";

/**
 * The one place where errors become client-facing: DomainErrors keep their message and code
 * (plus the offending field); GraphQL's own errors (parse, validation, variable coercion, the
 * limits plugin) pass through with their codes; anything else is a bug or an outage — logged
 * in full for operators, masked for clients.
 */
export function createFormatError(logger: Logger) {
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
    if (original instanceof GraphQLError && formatted.extensions?.code !== "INTERNAL_SERVER_ERROR") return formatted;
    logger.error({ err: original, path: formatted.path }, "unexpected error while resolving a GraphQL request");
    return { message: "Internal server error", locations: formatted.locations, path: formatted.path, extensions: { code: "INTERNAL_SERVER_ERROR" } };
  };
}
