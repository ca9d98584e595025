import "reflect-metadata";
import { execute, GraphQLSchema, parse } from "graphql";
import { buildSchema } from "type-graphql";
import { createPubSub } from "@graphql-yoga/subscription";
import { authChecker } from "../src/graphql/authChecker";
import { resolvers } from "../src/graphql/schema";
import { installDirectResolvers } from "../src/graphql/directResolvers";
import { createFormatError } from "../src/graphql/errors";
import { Role } from "../src/domain/enums";
import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { createModel, seedBasics } from "./support/fixtures";

/**
 * The server runs queries compiled (graphql-jit) over resolvers stripped of type-graphql's
 * per-field wrappers. The second method: the same queries through graphql-js over a schema
 * type-graphql builds afresh, wrappers and all, on the same services and database. Every answer
 * — data, and errors after the one error formatter — must be the same.
 */
const QUERIES: Array<{ name: string; query: string; variables: (ids: Ids) => Record<string, unknown>; errorCode?: string }> = [
  {
    name: "the dashboard page (lazily counted totalCount, relations, scores)",
    query: `query($d: ID!) { models(first: 50, orderBy: { field: NAME }) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id name version origin tags createdAt task { key name } backbone { name } parents { name } children { name } score(datasetId: $d) } } } }`,
    variables: (ids) => ({ d: ids.dataset }),
  },
  {
    name: "the leaderboard with gains",
    query: `query($d: ID!) { leaderboard(datasetId: $d, first: 50) { totalCount edges { node { rank score model { id name } merge { gain(datasetId: $d) { vsBestParent } } } } } }`,
    variables: (ids) => ({ d: ids.dataset }),
  },
  {
    name: "a model page with fragments, aliases and a skipped field",
    query: `fragment M on Model { id name } query($m: ID!, $d: ID!, $no: Boolean!) { model(id: $m) { ...M description @skip(if: $no) other: name task { key kind primaryMetric } parentEdges { relation parent { ...M } } evaluations { score dataset { name } } score(datasetId: $d) } }`,
    variables: (ids) => ({ m: ids.child, d: ids.dataset, no: true }),
  },
  {
    name: "lineage",
    query: `query($m: ID!) { lineage(modelId: $m, depth: 3) { nodes { id name origin } edges { parentId childId relation weight } } }`,
    variables: (ids) => ({ m: ids.child }),
  },
  {
    name: "a resolver's domain error (an unknown dataset)",
    query: `query($d: ID!) { leaderboard(datasetId: $d, first: 5) { totalCount } }`,
    variables: () => ({ d: "no-such-dataset" }),
    errorCode: "BAD_USER_INPUT",
  },
  {
    name: "a missing model (null, no error)",
    query: `query($m: ID!) { model(id: $m) { id name } }`,
    variables: () => ({ m: "no-such-model" }),
  },
];

interface Ids {
  dataset: string;
  child: string;
}

describe.each(databaseKinds)("compiled execution (%s)", (kind) => {
  let server: TestServer;
  let reference: GraphQLSchema;
  const ids = {} as Ids;

  beforeAll(async () => {
    server = await startTestServer(kind);
    const { task, backbone, cityscapes } = await seedBasics(server);
    ids.dataset = cityscapes.id;
    const made = [];
    for (let i = 0; i < 12; i++) {
      made.push(await createModel(server, { name: `m-${String(i).padStart(2, "0")}`, taskId: task.id, backboneId: i % 2 ? backbone.id : undefined, tags: [`t${i % 3}`] }));
      if (i % 4 !== 3) {
        await server.ok(`mutation($i: RecordEvaluationInput!) { recordEvaluation(input: $i) { id } }`, { i: { modelId: made[i]!.id, datasetId: cityscapes.id, score: (i % 5) / 10, source: "test" } });
      }
    }
    for (let i = 1; i < made.length; i++) {
      await server.ok(`mutation($i: AddLineageEdgeInput!) { addLineageEdge(input: $i) { id } }`, { i: { parentId: made[i - 1]!.id, childId: made[i]!.id, relation: "CHECKPOINT_OF" } });
    }
    ids.child = made[6]!.id;
    reference = await buildSchema({ resolvers: [...resolvers], authChecker, authMode: "error", pubSub: createPubSub(), validate: false });
  });
  afterAll(() => server.stop());

  async function byGraphqlJs(query: string, variables: Record<string, unknown>) {
    const services = server.app.services;
    const context = { services, loaders: services.createLoaders(), viewer: { role: Role.ADMIN, anonymous: true, tokenId: null, name: "anonymous" }, requestId: "reference" };
    const result = await execute({ schema: reference, document: parse(query), contextValue: context, variableValues: variables });
    const format = createFormatError({ error: () => {} } as never);
    return JSON.parse(JSON.stringify({ data: result.data, errors: result.errors?.map((e) => format(e.toJSON(), e)) }));
  }

  test.each(QUERIES)("$name: the same answer as graphql-js over type-graphql's own resolvers", async ({ query, variables, errorCode }) => {
    const vars = variables(ids);
    const before = server.app.server.execution.counts.compiled;
    const { status: _status, ...served } = await server.gql(query, vars);
    expect(server.app.server.execution.counts.compiled).toBe(before + 1);
    const expected = await byGraphqlJs(query, vars);
    expect(served).toEqual(Object.fromEntries(Object.entries(expected).filter(([, v]) => v !== undefined)));
    expect(served.errors?.map((e) => e.extensions?.code)).toEqual(errorCode ? [errorCode] : undefined);
  });

  test("the page really has what the comparison is about: parents, scores and a count", async () => {
    const data = await server.ok(QUERIES[0]!.query, { d: ids.dataset });
    const nodes = data.models.edges.map((e: { node: unknown }) => e.node);
    expect(data.models.totalCount).toBe(12);
    expect(nodes.filter((n: { parents: unknown[] }) => n.parents.length === 1)).toHaveLength(11);
    expect(nodes.filter((n: { score: number | null }) => n.score !== null)).toHaveLength(9);
  });

  test("mutations and variables that do not coerce go through graphql-js, with its BAD_USER_INPUT", async () => {
    const counts = { ...server.app.server.execution.counts };
    const bad = await server.gql(`query($m: ID!) { model(id: $m) { id } }`, {});
    expect(bad.status).toBe(400);
    expect(bad.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(bad.errors?.[0]?.message).toBe('Variable "$m" of required type "ID!" was not provided.');
    await server.ok(`mutation { createBackbone(input: { name: "another" }) { id } }`);
    expect(server.app.server.execution.counts).toEqual({ compiled: counts.compiled, interpreted: counts.interpreted + 2 });
  });
});

describe("type-graphql's per-field wrappers", () => {
  test("go where nothing needs them and stay on fields with a role or a middleware", async () => {
    const fresh = await buildSchema({ resolvers: [...resolvers], authChecker, authMode: "error", pubSub: createPubSub(), validate: false });
    const query = fresh.getQueryType()!.getFields();
    const model = fresh.getType("Model") as unknown as { getFields(): Record<string, { resolve?: unknown }> };
    const before = { apiTokens: query.apiTokens!.resolve, lineage: query.lineage!.resolve, mergePlan: query.mergePlan!.resolve, models: query.models!.resolve, model: query.model!.resolve, task: model.getFields().task!.resolve, name: model.getFields().name!.resolve };
    const changed = installDirectResolvers(fresh, resolvers);
    expect(changed.plain).toBeGreaterThan(100);
    expect(changed.direct).toBeGreaterThan(50);
    // @Authorized(ADMIN) and TakeTurn keep type-graphql's resolver; so does an input-object argument.
    expect(query.apiTokens!.resolve).toBe(before.apiTokens);
    expect(query.lineage!.resolve).toBe(before.lineage);
    expect(query.mergePlan!.resolve).toBe(before.mergePlan);
    expect(query.models!.resolve).toBe(before.models);
    // A query with a scalar argument, a field resolver and a plain column lose theirs.
    expect(query.model!.resolve).not.toBe(before.model);
    expect(model.getFields().task!.resolve).not.toBe(before.task);
    expect(model.getFields().name!.resolve).not.toBe(before.name);
  });
});
