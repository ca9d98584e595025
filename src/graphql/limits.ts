import type { ApolloServerPlugin } from "@apollo/server";
import {
  DocumentNode, FragmentDefinitionNode, getOperationAST, GraphQLError, GraphQLSchema, Kind, OperationDefinitionNode, SelectionSetNode,
} from "graphql";
import { getNamedType, isLeafType } from "graphql";
import { getVariableValues } from "graphql/execution/values";
import { getComplexity, simpleEstimator, ComplexityEstimator } from "graphql-query-complexity";
import { DEFAULT_PAGE_SIZE } from "../services/pagination";
import { DEFAULT_PAGE_SIZES, FIELD_BASE_COSTS, fieldKey, MAX_EXPENSIVE_FIELDS } from "./fieldCosts";

export interface QueryLimits {
  maxDepth: number;
  maxComplexity: number;
}

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
 * (its default page size when absent). Fields whose work is not in the objects they return add
 * their own cost (fieldCosts), and every occurrence of one is counted for the cap on them.
 */
function costEstimator(counter: { expensive: number }): ComplexityEstimator {
  return (estimate) => {
    const { args, childComplexity, field } = estimate;
    const key = fieldKey(estimate);
    const base = FIELD_BASE_COSTS[key];
    let own = 0;
    if (base) {
      counter.expensive++;
      own = base(args);
    }
    if (typeof args.first === "number") return own + 1 + Math.max(args.first, 1) * childComplexity;
    if (field.args.some((a) => a.name === "first")) return own + 1 + (DEFAULT_PAGE_SIZES[key] ?? DEFAULT_PAGE_SIZE) * childComplexity;
    if (isLeafType(getNamedType(field.type))) return own;
    return own + 1 + childComplexity;
  };
}

export interface LimitCheck {
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
  /** The cost model's own estimator; replaceable so a failing one can be tested. */
  estimators?: ComplexityEstimator[];
  /** Told when the cost could not be estimated (the query is then refused). */
  onEstimatorError?: (error: unknown) => void;
}

function tooComplex(message: string, extensions: Record<string, unknown>, originalError?: Error): GraphQLError {
  // http.status: Apollo answers a refused operation with 400, not its default 500 for errors
  // raised before execution; the key never reaches the client.
  return new GraphQLError(message, { extensions: { code: "QUERY_TOO_COMPLEX", ...extensions, http: { status: 400 } }, originalError });
}

/**
 * The depth, cost and expensive-field limits of one operation of a validated document; throws a
 * QUERY_TOO_COMPLEX GraphQLError when one is exceeded. Used by HTTP (Apollo plugin) and the
 * WebSocket alike. It fails closed: a cost that cannot be estimated refuses the operation.
 */
export function checkQueryLimits(schema: GraphQLSchema, document: DocumentNode, limits: QueryLimits, check: LimitCheck = {}): void {
  const depth = queryDepth(document, check.operationName);
  if (depth > limits.maxDepth) {
    throw tooComplex(`query depth ${depth} exceeds the limit of ${limits.maxDepth}; split the query or raise LAYERMERGE_MAX_QUERY_DEPTH`, { depth, maxDepth: limits.maxDepth });
  }
  const operation = getOperationAST(document, check.operationName ?? undefined);
  if (!operation) return; // no operation to run: execution refuses the request itself
  // Variables that do not coerce: execution refuses them (BAD_USER_INPUT) before any resolver
  // runs, so there is nothing to estimate.
  if (getVariableValues(schema, operation.variableDefinitions ?? [], check.variables ?? {}).errors) return;

  const counter = { expensive: 0 };
  let complexity: number;
  try {
    complexity = getComplexity({
      schema,
      query: document,
      operationName: check.operationName ?? undefined,
      variables: check.variables ?? {},
      estimators: check.estimators ?? [costEstimator(counter), simpleEstimator({ defaultComplexity: 1 })],
    });
    if (!Number.isFinite(complexity)) throw new Error(`the estimated cost is ${complexity}`);
  } catch (error) {
    check.onEstimatorError?.(error);
    throw tooComplex("the cost of this query could not be estimated, so it is refused", {}, error instanceof Error ? error : undefined);
  }
  if (complexity > limits.maxComplexity) {
    throw tooComplex(`query complexity ${complexity} exceeds the limit of ${limits.maxComplexity}; ask for fewer items per page or fewer fields, or raise LAYERMERGE_MAX_QUERY_COMPLEXITY`, {
      complexity,
      maxComplexity: limits.maxComplexity,
    });
  }
  if (counter.expensive > MAX_EXPENSIVE_FIELDS) {
    throw tooComplex(`the query asks for ${counter.expensive} expensive fields (mergePlan and its tensors and layers, mergeCandidates, compareStructures, lineage, a structure's tensors); at most ${MAX_EXPENSIVE_FIELDS} per query`, {
      expensiveFields: counter.expensive,
      maxExpensiveFields: MAX_EXPENSIVE_FIELDS,
    });
  }
}

/** Variable sets remembered as within the limits, per document. */
const PASSED_PER_DOCUMENT = 64;

export function limitsPlugin(schema: GraphQLSchema, limits: QueryLimits, onEstimatorError?: (error: unknown) => void): ApolloServerPlugin {
  // The check is a function of the document, the operation and the variables (the schema and the
  // limits are fixed), and estimating the cost walks the whole query with the schema: for a
  // dashboard page that was a tenth of a request's CPU. Apollo hands every request with the same
  // query text the same document, so the operations and variables that passed are remembered
  // with it; a refusal is worked out again each time (it is rare, and reports its estimate).
  const passed = new WeakMap<DocumentNode, Set<string>>();
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, request, operationName }) {
          const name = operationName ?? request.operationName;
          const key = `${name ?? ""}\u0000${JSON.stringify(request.variables ?? {})}`;
          let known = passed.get(document);
          if (known?.has(key)) return;
          checkQueryLimits(schema, document, limits, { operationName: name, variables: request.variables, onEstimatorError });
          if (!known) passed.set(document, (known = new Set()));
          if (known.size >= PASSED_PER_DOCUMENT) known.clear();
          known.add(key);
        },
      };
    },
  };
}
