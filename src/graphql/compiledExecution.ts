import type { ApolloServerOptionsWithGateway, BaseContext } from "@apollo/server";
import { DocumentNode, execute, ExecutionResult, getOperationAST, GraphQLError, GraphQLSchema } from "graphql";
import { getVariableValues } from "graphql/execution/values";
import { compileQuery, isCompiledQuery, type CompiledQuery } from "graphql-jit";
import type { ResponseCache } from "./responseCache";
import type { GraphQLContext } from "./context";

type Gateway = ApolloServerOptionsWithGateway<BaseContext>["gateway"];

/** A document's compiled operations by name ("" for the only one); null: graphql-js runs it. */
type Compiled = Map<string, CompiledQuery | null>;

/**
 * Runs queries through graphql-jit: a query is compiled once into a function that walks its
 * selection directly (resolvers called in place, default resolvers inlined as property reads,
 * leaves serialized without the type lookups graphql-js repeats for every field of every row).
 * For a dashboard page of 50 models that interpretation was most of the request's CPU.
 *
 * Compiled queries are kept per document: Apollo hands every request with the same query text
 * the same parsed document from its document store, so the cache lives as long as that entry.
 *
 * graphql-js runs everything else, with exactly its own results: mutations (which are not hot,
 * and whose serial execution stays graphql-js's), subscriptions sent over HTTP, a document
 * graphql-jit refuses to compile, and a request whose variables do not coerce (so their
 * BAD_USER_INPUT errors keep graphql-js's messages and nodes, which Apollo reads).
 */
export class CompiledExecution {
  private readonly compiled = new WeakMap<DocumentNode, Compiled>();
  /** Operations graphql-jit ran and operations graphql-js ran: what a test checks took which path. */
  readonly counts = { compiled: 0, interpreted: 0 };

  /** Whole responses of read-only queries, reused while the database is unchanged (see ResponseCache). */
  cache: ResponseCache | null = null;

  constructor(private readonly schema: GraphQLSchema) {}

  async execute(document: DocumentNode, operationName: string | null | undefined, contextValue: unknown, variables: Record<string, unknown> | undefined): Promise<ExecutionResult> {
    const query = this.compiledFor(document, operationName ?? undefined);
    if (query) {
      const operation = getOperationAST(document, operationName);
      if (operation && !getVariableValues(this.schema, operation.variableDefinitions ?? [], variables ?? {}).errors) {
        this.counts.compiled++;
        const result = await query.query(undefined, contextValue, variables ?? {});
        return result.errors ? { ...result, errors: result.errors.map(asGraphQLJsError) } : result;
      }
    }
    this.counts.interpreted++;
    return execute({ schema: this.schema, document, operationName, contextValue, variableValues: variables });
  }

  private compiledFor(document: DocumentNode, operationName: string | undefined): CompiledQuery | null {
    let byName = this.compiled.get(document);
    if (!byName) this.compiled.set(document, (byName = new Map()));
    const key = operationName ?? "";
    let query = byName.get(key);
    if (query === undefined) {
      query = null;
      if (getOperationAST(document, operationName)?.operation === "query") {
        try {
          const result = compileQuery(this.schema, document, operationName);
          if (isCompiledQuery(result)) query = result;
        } catch {
          // Not compilable: graphql-js runs it (and reports whatever is wrong with it).
        }
      }
      byName.set(key, query);
    }
    return query;
  }

  /**
   * Apollo's hook for an executor of its own is the gateway interface (a federation gateway
   * plans and runs queries the same way): the schema is announced once and never changes.
   */
  apolloGateway(): Gateway {
    const schema = this.schema;
    return {
      onSchemaLoadOrUpdate(callback) {
        callback({ apiSchema: schema, coreSupergraphSdl: "" });
        return () => {};
      },
      load: async () => ({
        executor: async (request) => {
          const operationName = request.operationName ?? request.request.operationName;
          const run = () => this.execute(request.document, operationName, request.context, request.request.variables);
          if (!this.cache) return run();
          const viewer = (request.context as unknown as GraphQLContext).viewer;
          const { result, status } = await this.cache.respond({
            document: request.document,
            operationName,
            queryHash: request.queryHash,
            variables: request.request.variables,
            viewer: viewer ? `${viewer.role}|${viewer.anonymous}|${viewer.tokenId ?? ""}` : "",
            noCache: /(^|,)\s*no-(cache|store)\b/i.test(request.request.http?.headers.get("cache-control") ?? ""),
          }, run);
          request.response?.http?.headers.set("x-layermerge-cache", status);
          return result;
        },
      }),
      stop: async () => {},
    };
  }
}

/**
 * graphql-jit reports errors with its own error type, which lacks what graphql-js's carries
 * (an `extensions` object always, `nodes`); Apollo and the error formatter read those, so each
 * becomes the GraphQLError graphql-js would have produced: same message, locations, path,
 * original error and extensions.
 */
function asGraphQLJsError(error: GraphQLError): GraphQLError {
  const jit = error as GraphQLError & { originalError?: Error | null };
  const converted = new GraphQLError(jit.message, { path: jit.path, originalError: jit.originalError ?? undefined, extensions: jit.extensions ?? undefined });
  if (jit.locations) (converted as { locations?: GraphQLError["locations"] }).locations = jit.locations;
  return converted;
}
