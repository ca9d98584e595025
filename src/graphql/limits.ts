import type { ApolloServerPlugin } from "@apollo/server";
import {
  DocumentNode, FragmentDefinitionNode, GraphQLError, GraphQLSchema, Kind, OperationDefinitionNode, SelectionSetNode,
} from "graphql";
import { getNamedType, isLeafType } from "graphql";
import { getComplexity, simpleEstimator, ComplexityEstimator } from "graphql-query-complexity";
import { DEFAULT_PAGE_SIZE } from "../services/pagination";

/**
 * Depth: the longest chain of nested fields (introspection's own nesting is not counted: a
 * GraphQL explorer's introspection query is deeper than any real query should be).
 */
export function queryDepth(document: DocumentNode, operationName?: string | null): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
  if (!operation) return 0;
  const depthOf = (set: SelectionSetNode, seen: Set<string>): number => {
    let max = 0;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        if (sel.name.value.startsWith("__")) continue;
        max = Math.max(max, 1 + (sel.selectionSet ? depthOf(sel.selectionSet, seen) : 0));
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        max = Math.max(max, depthOf(sel.selectionSet, seen));
      } else {
        const name = sel.name.value;
        const fragment = fragments.get(name);
        if (!fragment || seen.has(name)) continue;
        max = Math.max(max, depthOf(fragment.selectionSet, new Set([...seen, name])));
      }
    }
    return max;
  };
  return depthOf(operation.selectionSet, new Set());
}

/**
 * Cost counts objects fetched, not bytes: a scalar field costs nothing (it comes with its row),
 * an object field costs one plus its children, and a connection's children count `first` times
 * (default page size when absent).
 */
const pageEstimator: ComplexityEstimator = ({ args, childComplexity, field }) => {
  if (typeof args.first === "number") return 1 + Math.max(args.first, 1) * childComplexity;
  if (field.args.some((a) => a.name === "first")) return 1 + DEFAULT_PAGE_SIZE * childComplexity;
  if (isLeafType(getNamedType(field.type))) return 0;
  return 1 + childComplexity;
};

export function limitsPlugin(schema: GraphQLSchema, limits: { maxDepth: number; maxComplexity: number }): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, request, operationName }) {
          const depth = queryDepth(document, operationName ?? request.operationName);
          if (depth > limits.maxDepth) {
            throw new GraphQLError(`query depth ${depth} exceeds the limit of ${limits.maxDepth}; split the query or raise LAYERMERGE_MAX_QUERY_DEPTH`, {
              extensions: { code: "QUERY_TOO_COMPLEX", depth, maxDepth: limits.maxDepth },
            });
          }
          let complexity: number;
          try {
            complexity = getComplexity({
              schema,
              query: document,
              operationName: operationName ?? request.operationName ?? undefined,
              variables: request.variables ?? {},
              estimators: [pageEstimator, simpleEstimator({ defaultComplexity: 1 })],
            });
          } catch {
            // Variables that do not coerce: execution reports them as BAD_USER_INPUT next.
            return;
          }
          if (complexity > limits.maxComplexity) {
            throw new GraphQLError(`query complexity ${complexity} exceeds the limit of ${limits.maxComplexity}; ask for fewer items per page or fewer fields, or raise LAYERMERGE_MAX_QUERY_COMPLEXITY`, {
              extensions: { code: "QUERY_TOO_COMPLEX", complexity, maxComplexity: limits.maxComplexity },
            });
          }
        },
      };
    },
  };
}
