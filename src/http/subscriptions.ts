import type * as http from "node:http";
import type { Duplex } from "node:stream";
import { randomUUID } from "node:crypto";
import { GraphQLError, GraphQLFormattedError, GraphQLSchema, DocumentNode, getOperationAST, parse, validate } from "graphql";
import { WebSocketServer, type WebSocket } from "ws";
import { useServer } from "graphql-ws/use/ws";
import { CloseCode, type ExecutionResult } from "graphql-ws";
import type { Config } from "../config/config";
import type { Services } from "../services/services";
import type { Logger } from "../logging";
import { DomainError } from "../core/errors";
import type { GraphQLContext, RequestViewer } from "../graphql/context";
import { checkQueryLimits } from "../graphql/limits";
import { authenticate } from "./authenticate";
import { originAllowed } from "./cors";
import { FOREIGN_HOST_MESSAGE, hostAllowed } from "./hostCheck";

/** Matches the JSON body limit of POST /graphql (2 MB). */
export const MAX_MESSAGE_BYTES = 2 * 1024 * 1024;

type FormatError = (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;

export interface Subscriptions {
  dispose(): Promise<void>;
}

/**
 * graphql-ws at /graphql, for subscriptions (jobUpdated) only. Browsers apply neither CORS nor
 * Apollo's CSRF prevention to WebSockets, so:
 * - the upgrade is refused with 403, before any handshake, unless its Origin is the server's
 *   own or one of LAYERMERGE_CORS_ORIGINS (no Origin: a script or the CLI, allowed), and, on a
 *   loopback-only server with auth off, unless its Host is a loopback name (hostCheck);
 * - queries and mutations are refused (BAD_REQUEST): they go over HTTP, where CORS applies;
 * - subscriptions pass the same validation, depth and cost limits and the same authentication
 *   as HTTP requests (the token travels in the connection parameters, `authorization`, since
 *   browsers cannot set headers on a WebSocket), and errors carry the same codes.
 */
export function attachSubscriptions(httpServer: http.Server, schema: GraphQLSchema, config: Config, services: Services, logger: Logger, formatError: FormatError): Subscriptions {
  // A message is one GraphQL request: the same bound as an HTTP body (ws's default is 100 MiB).
  const wsServer = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });

  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const pathname = new URL(req.url ?? "/", "http://localhost").pathname;
    if (pathname !== "/graphql") return refuseUpgrade(socket, 404, "NOT_FOUND", "WebSockets are served at /graphql only");
    if (!hostAllowed(req.headers.host, config)) return refuseUpgrade(socket, 403, "FORBIDDEN", FOREIGN_HOST_MESSAGE);
    if (!originAllowed(req.headers.origin, req.headers.host, config.corsOrigins)) {
      logger.warn({ origin: req.headers.origin }, "WebSocket from a foreign origin refused");
      return refuseUpgrade(socket, 403, "FORBIDDEN", "this origin may not open a WebSocket to this server (see LAYERMERGE_CORS_ORIGINS)");
    }
    wsServer.handleUpgrade(req, socket, head, (ws) => wsServer.emit("connection", ws, req));
  };
  httpServer.on("upgrade", onUpgrade);

  const authorizationOf = (params: Record<string, unknown> | undefined) => {
    const value = params?.authorization ?? params?.Authorization;
    return typeof value === "string" ? { authorization: value } : {};
  };
  const format = (error: GraphQLError) => formatError(error.toJSON(), error);
  /**
   * A subscription's stream that fails midway reaches graphql-ws as a bare Error, which it wraps
   * in a GraphQLError without a path or code: judge it by what it wraps (a DomainError keeps its
   * code, anything else is masked and logged), never pass its message through.
   */
  const formatStreamError = (error: GraphQLError) => {
    const cause = error.originalError;
    if (cause && !(cause instanceof GraphQLError) && !error.path && error.extensions?.code === undefined) {
      return formatError({ message: error.message, extensions: { code: "INTERNAL_SERVER_ERROR" } }, cause);
    }
    return format(error);
  };

  /** Who the socket acts as: DomainErrors are refusals; anything else (the database) is an outage. */
  const viewerOf = async (params: Record<string, unknown> | undefined): Promise<RequestViewer | DomainError | Error> => {
    try {
      return await authenticate(authorizationOf(params), config.auth, services.tokens);
    } catch (error) {
      if (error instanceof DomainError) return error;
      logger.error({ err: error }, "authenticating a WebSocket failed");
      return error instanceof Error ? error : new Error(String(error));
    }
  };

  const cleanup = useServer<Record<string, unknown> | undefined, { socket: WebSocket; request: http.IncomingMessage }>(
    {
      schema,
      onConnect: async (ctx) => {
        const viewer = await viewerOf(ctx.connectionParams);
        if (viewer instanceof DomainError) return false; // 4403 Forbidden: a bad, revoked or missing token
        if (viewer instanceof Error) {
          // Not the client's fault: say so (4500), so it retries instead of asking for a new token.
          ctx.extra.socket.close(CloseCode.InternalServerError, "Internal server error");
          return false;
        }
        return true;
      },
      onSubscribe: async (ctx, _id, payload) => {
        let document: DocumentNode;
        try {
          document = parse(payload.query);
        } catch (error) {
          return [coded(error, "GRAPHQL_PARSE_FAILED")];
        }
        const invalid = validate(schema, document);
        if (invalid.length) return invalid.map((error) => coded(error, "GRAPHQL_VALIDATION_FAILED"));
        try {
          checkQueryLimits(schema, document, { maxDepth: config.maxQueryDepth, maxComplexity: config.maxQueryComplexity }, {
            operationName: payload.operationName,
            variables: payload.variables,
            onEstimatorError: (error) => logger.error({ err: error }, "the cost of a subscription could not be estimated"),
          });
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const operation = getOperationAST(document, payload.operationName);
        if (!operation) return [new GraphQLError("the document names no operation to run (operationName?)", { extensions: { code: "BAD_REQUEST" } })];
        if (operation.operation !== "subscription") {
          return [new GraphQLError(`${operation.operation === "query" ? "queries" : "mutations"} are not accepted over the WebSocket; send them over HTTP (POST /graphql)`, { extensions: { code: "BAD_REQUEST" } })];
        }
        const viewer = await viewerOf(ctx.connectionParams);
        if (viewer instanceof DomainError) return [new GraphQLError(viewer.message, { extensions: { code: viewer.code } })];
        if (viewer instanceof Error) return [new GraphQLError("Internal server error", { extensions: { code: "INTERNAL_SERVER_ERROR" } })];
        const contextValue: GraphQLContext = { services, loaders: services.createLoaders(), viewer, requestId: randomUUID() };
        return { schema, document, operationName: payload.operationName, variableValues: payload.variables, contextValue };
      },
      onNext: (_ctx, _id, _payload, _args, result: ExecutionResult) =>
        result.errors?.length ? { ...result, errors: (result.errors as readonly GraphQLError[]).map(format) } : undefined,
      onError: (_ctx, _id, _payload, errors) => errors.map(formatStreamError),
    },
    wsServer,
  );

  return {
    async dispose() {
      httpServer.off("upgrade", onUpgrade);
      await cleanup.dispose();
    },
  };
}

/** A GraphQL error with the code Apollo gives the same failure over HTTP. */
function coded(error: unknown, code: string): GraphQLError {
  if (error instanceof GraphQLError) return new GraphQLError(error.message, { nodes: error.nodes, source: error.source, positions: error.positions, extensions: { ...error.extensions, code } });
  return new GraphQLError(String((error as Error)?.message ?? error), { extensions: { code } });
}

/** Answers an upgrade request with a plain HTTP error (JSON) and closes the connection. */
function refuseUpgrade(socket: Duplex, status: 403 | 404, code: string, message: string): void {
  socket.on("error", () => socket.destroy()); // a client that resets early is no server error
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${status === 403 ? "Forbidden" : "Not Found"}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
