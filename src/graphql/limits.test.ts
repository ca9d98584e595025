import { GraphQLError, GraphQLSchema, parse } from "graphql";
import * as complexity from "graphql-query-complexity";
import { buildAppSchema } from "./schema";
import { checkQueryLimits, limitsPlugin } from "./limits";

jest.mock("graphql-query-complexity", () => {
  const actual = jest.requireActual("graphql-query-complexity");
  return { ...actual, getComplexity: jest.fn(actual.getComplexity) };
});
const getComplexity = complexity.getComplexity as jest.MockedFunction<typeof complexity.getComplexity>;

const LIMITS = { maxDepth: 12, maxComplexity: 5000 };
let schema: GraphQLSchema;
beforeAll(async () => {
  schema = await buildAppSchema();
});

function refusal(query: string, variables?: Record<string, unknown>): GraphQLError | null {
  try {
    checkQueryLimits(schema, parse(query), LIMITS, { variables });
    return null;
  } catch (error) {
    return error as GraphQLError;
  }
}

const aliases = (count: number, field: (i: number) => string) => `{ ${Array.from({ length: count }, (_, i) => `a${i}: ${field(i)}`).join(" ")} }`;

describe("expensive fields cost what they do", () => {
  test("1,000 aliases of mergePlan are refused by cost: 150 per input model, 3 inputs each, plus the plan object itself", () => {
    const error = refusal(aliases(1000, () => `mergePlan(input: { anchorId: "1", modelIds: ["2", "3"] }) { layerCount }`));
    expect(error?.extensions).toMatchObject({ code: "QUERY_TOO_COMPLEX", complexity: 1000 * (3 * 150 + 1) });
  });

  test("a plan's unpaged lists of tensors and layers cost 500 each: three plans with both fit, four do not", () => {
    const withLists = (count: number) => aliases(count, () => `mergePlan(input: { anchorId: "1", modelIds: ["2"] }) { layers { index } tensors { name } }`);
    // Each: 2 inputs × 150 + 1, + (500 + 1) per list = 1303
    expect(refusal(withLists(3))).toBeNull();
    expect(refusal(withLists(4))?.extensions).toMatchObject({ complexity: 4 * 1303 });
  });

  test("the cost follows variables: the number of inputs and a lineage's depth", () => {
    const plan = `query($i: StartMergeInput!) { mergePlan(input: $i) { layerCount } }`;
    expect(refusal(plan, { i: { anchorId: "1", modelIds: ["2", "3", "4"] } })).toBeNull();
    const lineage = (depth: number) => aliases(10, () => `lineage(modelId: "1", depth: ${depth}) { nodes { id } }`);
    // 10 × (10 per hop × 50 + 1 + nodes 1) = 5020 > 5000; at depth 49: 10 × 492 = 4920 fits.
    expect(refusal(lineage(50))?.extensions).toMatchObject({ complexity: 5020 });
    expect(refusal(lineage(49))).toBeNull();
  });

  test("a structure's tensor page counts its own default size (100), not the common 50", () => {
    const error = refusal(`{ models(first: 30) { edges { node { structure { tensors { edges { node { name } } } } } } } }`);
    // 1 + 30 × (edges 1 + node 1 + structure 1 + tensors (5 + 1 + 100 × 2)) = 6271
    expect(error?.extensions).toMatchObject({ code: "QUERY_TOO_COMPLEX", complexity: 6271 });
  });

  test("at most 10 expensive fields per operation, however cheap each is", () => {
    // mergeCandidates { totalCount } costs 50 + 1: eleven of them are far under 5,000.
    const error = refusal(aliases(11, () => `mergeCandidates(anchorId: "1") { totalCount }`));
    expect(error?.extensions).toMatchObject({ code: "QUERY_TOO_COMPLEX", expensiveFields: 11, maxExpensiveFields: 10 });
    expect(refusal(aliases(10, () => `mergeCandidates(anchorId: "1") { totalCount }`))).toBeNull();
    // Fragment spreads count each time they are spread.
    const spread = `{ ${Array.from({ length: 11 }, (_, i) => `m${i}: model(id: "${i}") { ...S }`).join(" ")} } fragment S on Model { structure { tensors(first: 1) { totalCount } } }`;
    expect(refusal(spread)?.extensions).toMatchObject({ expensiveFields: 11 });
  });

  test("variables that do not coerce are left to execution (which refuses them)", () => {
    expect(refusal(`query($n: Int!) { tasks { id } }`, { n: "x" })).toBeNull();
  });
});

describe("the limits fail closed", () => {
  afterEach(() => getComplexity.mockImplementation(jest.requireActual("graphql-query-complexity").getComplexity));

  test("a throwing cost estimator refuses the query instead of skipping the limit", async () => {
    getComplexity.mockImplementation(() => {
      throw new Error("estimator bug");
    });
    const told: unknown[] = [];
    const plugin = limitsPlugin(schema, LIMITS, (error) => told.push(error));
    const hooks = await plugin.requestDidStart!({} as never);
    const document = parse(`{ tasks { id } }`);
    let refused: unknown = null;
    try {
      await hooks!.didResolveOperation!({ document, request: { variables: {} }, operationName: null } as never);
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(GraphQLError);
    expect((refused as GraphQLError).extensions.code).toBe("QUERY_TOO_COMPLEX");
    expect(told).toEqual([expect.objectContaining({ message: "estimator bug" })]);
  });
});
