import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, type ExecutionResult, GraphQLError, GraphQLObjectType } from "graphql";
import { buildAppSchema } from "../src/graphql/schema";
import { CACHEABLE_FIELDS, isCacheable, ResponseCache } from "../src/graphql/responseCache";
import { openDatabase, type Database } from "../src/persistence/database";
import { sql } from "../src/persistence/directSql";
import { databaseKinds } from "./support/testDatabase";
import { startTestServer, type TestServer } from "./support/testServer";
import { seedBasics } from "./support/fixtures";
import { ensureBuilt, startLayermerge, type RunningProcess } from "./support/processes";
import { gql, twoTensorModel, sleep } from "./support/remote";

/*
 * Read-only dashboard queries are answered from a cache of whole responses while the database's
 * data version is unchanged. What must hold: a cached answer is always the answer a fresh
 * execution gives at that moment — after a write through the API, after a write by another
 * connection that bypasses the application entirely, after a job in the runner child process —
 * and a query that reads anything but committed rows is never cached. Each cached response here
 * is compared with one computed afresh (`Cache-Control: no-cache`) right after it.
 */

const DASHBOARD = `query($d: ID!) { models(first: 50, orderBy: { field: NAME }) { totalCount edges { node { id name description tags task { key } backbone { name } parents { name } score(datasetId: $d) } } } }`;
const LEADERBOARD = `query($d: ID!) { leaderboard(datasetId: $d, first: 50) { totalCount edges { node { rank score model { id name } merge { gain(datasetId: $d) { vsBestParent } } } } } }`;

describe("which queries may be cached", () => {
  let schema: Awaited<ReturnType<typeof buildAppSchema>>;
  beforeAll(async () => {
    schema = await buildAppSchema();
  });

  test("every type and field the cache allows exists in the schema (a misspelt name would silently allow nothing)", () => {
    for (const [typeName, fields] of Object.entries(CACHEABLE_FIELDS)) {
      const type = schema.getType(typeName);
      expect(type).toBeInstanceOf(GraphQLObjectType);
      if (fields === "*") continue;
      const known = Object.keys((type as GraphQLObjectType).getFields());
      for (const field of fields) expect(`${typeName}.${known.includes(field) ? field : `${field} (missing)`}`).toBe(`${typeName}.${field}`);
    }
  });

  test("the dashboard's reads are cacheable; anything touching jobs, files, tokens or the viewer, and every mutation, is not", () => {
    const cacheable = (query: string) => isCacheable(schema, parse(query), undefined);
    expect(cacheable(DASHBOARD)).toBe(true);
    expect(cacheable(LEADERBOARD)).toBe(true);
    expect(cacheable(`query($m: ID!) { lineage(modelId: $m, depth: 3) { nodes { id name origin } edges { parentId childId relation weight } } }`)).toBe(true);
    expect(cacheable(`{ tasks { key } backbones { name } __typename }`)).toBe(true);

    expect(cacheable(`{ jobs { edges { node { id status } } } }`)).toBe(false);
    expect(cacheable(`{ viewer { role } }`)).toBe(false);
    expect(cacheable(`{ models { edges { node { name artifact { sha256 } } } } }`)).toBe(false);
    expect(cacheable(`{ models { edges { node { name merge { job { status } } } } } }`)).toBe(false);
    expect(cacheable(`{ __schema { types { name } } }`)).toBe(false);
    expect(cacheable(`mutation { createBackbone(input: { name: "x" }) { id } }`)).toBe(false);
    // Fragments are walked like the rest, whatever their place.
    expect(cacheable(`{ models { edges { node { ...F } } } } fragment F on Model { name artifact { sha256 } }`)).toBe(false);
    expect(cacheable(`{ models { edges { node { ... on Model { merge { search { id } } } } } } }`)).toBe(false);
    expect(cacheable(`{ models { edges { node { ...F } } } } fragment F on Model { name task { key } }`)).toBe(true);
  });
});

describe("the cache's own rules (a counted computation, a version the test sets)", () => {
  const schemaPromise = buildAppSchema();
  const document = parse(`{ tasks { key } }`);

  async function harness(maxEntries = 4) {
    let version: string | null = "v1";
    let runs = 0;
    const cache = new ResponseCache(await schemaPromise, async () => version, maxEntries);
    const ask = (viewer = "READER|true|", variables: Record<string, unknown> = {}, noCache = false, result?: () => ExecutionResult) =>
      cache.respond({ document, operationName: undefined, queryHash: "h", variables, viewer, noCache }, async () => {
        runs++;
        return result ? result() : { data: { tasks: [{ key: `run-${runs}` }] } };
      });
    return { cache, ask, setVersion: (v: string | null) => (version = v), runs: () => runs };
  }

  test("served again only while the version is unchanged, and per viewer and variables", async () => {
    const h = await harness();
    expect((await h.ask()).status).toBe("miss");
    const hit = await h.ask();
    expect(hit.status).toBe("hit");
    expect(hit.result.data).toEqual({ tasks: [{ key: "run-1" }] });
    expect((await h.ask("ADMIN|false|t1")).status).toBe("miss");
    expect((await h.ask(undefined, { x: 1 })).status).toBe("miss");
    expect(h.runs()).toBe(3);
    h.setVersion("v2");
    const after = await h.ask();
    expect(after.status).toBe("miss");
    expect(after.result.data).toEqual({ tasks: [{ key: "run-4" }] });
    // No-cache computes afresh, and what it computed is then served.
    expect((await h.ask(undefined, {}, true)).status).toBe("bypass");
    expect((await h.ask()).result.data).toEqual({ tasks: [{ key: "run-5" }] });
  });

  test("nothing is kept when the version is unknown, changes during the computation, or the result has errors", async () => {
    const h = await harness();
    h.setVersion(null);
    await h.ask();
    expect((await h.ask()).status).toBe("miss");
    h.setVersion("a");
    await h.ask(undefined, {}, false, () => {
      h.setVersion("b"); // a commit lands while the statements run
      return { data: { tasks: [] } };
    });
    expect((await h.ask()).status).toBe("miss"); // computed at "b", kept
    expect((await h.ask()).status).toBe("hit");
    h.setVersion("c");
    await h.ask(undefined, {}, false, () => ({ data: null, errors: [new GraphQLError("the database went away")] }));
    expect((await h.ask()).status).toBe("miss");
  });

  test("bounded in bytes: a body over 4 MiB is served but not kept, and all kept bodies stay under 64 MiB", async () => {
    const h = await harness(1000);
    const big = (mib: number) => () => ({ data: { tasks: [{ key: "x".repeat(mib * 1024 * 1024) }] } });
    expect((await h.ask("a", {}, false, big(5))).status).toBe("miss");
    expect((await h.ask("a", {}, false, big(5))).status).toBe("miss");
    expect(h.cache.size.entries).toBe(0);
    for (let k = 0; k < 20; k++) await h.ask(`v${k}`, {}, false, big(3.5));
    expect(h.cache.size.bytes).toBeLessThanOrEqual(64 << 20);
    expect(h.cache.size.entries).toBe(Math.floor((64 << 20) / (3.5 * 1024 * 1024 + 30)));
    // The newest are the ones kept.
    expect((await h.ask("v19")).status).toBe("hit");
    expect((await h.ask("v0")).status).toBe("miss");
  });

  test("bounded: the least recently used entry goes first; kept responses are frozen", async () => {
    const h = await harness(2);
    await h.ask("a");
    await h.ask("b");
    await h.ask("a"); // a is now the most recent
    await h.ask("c"); // b goes
    expect((await h.ask("a")).status).toBe("hit");
    expect((await h.ask("c")).status).toBe("hit");
    expect((await h.ask("b")).status).toBe("miss");
    const { result } = await h.ask("b");
    expect(Object.isFrozen(result.data)).toBe(true);
    expect(h.cache.stringify({ data: result.data })).toBe(JSON.stringify({ data: result.data }) + "\n");
  });
});

describe.each(databaseKinds)("cached responses are never stale (%s)", (kind) => {
  let server: TestServer;
  let other: Database;
  let datasetId: string;
  let taskId: string;
  const models: string[] = [];

  const ask = async (query: string, variables: Record<string, unknown>, fresh = false) => {
    const res = await fetch(server.url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(fresh ? { "cache-control": "no-cache" } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return { status: res.headers.get("x-layermerge-cache"), body: await res.text() };
  };

  /** The cached answer, then a fresh one: they must be the same text. */
  async function compare(query: string, variables: Record<string, unknown>) {
    const cached = await ask(query, variables);
    const fresh = await ask(query, variables, true);
    expect(fresh.status).toBe("bypass");
    expect(JSON.parse(cached.body).errors).toBeUndefined();
    expect(cached.body).toBe(fresh.body);
    return cached.status;
  }

  beforeAll(async () => {
    server = await startTestServer(kind);
    const basics = await seedBasics(server);
    datasetId = basics.cityscapes.id;
    taskId = basics.task.id;
    for (let i = 0; i < 12; i++) {
      const id = (await server.ok(`mutation($i: CreateModelInput!) { createModel(input: $i) { id } }`, { i: { name: `m-${String(i).padStart(2, "0")}`, taskId, backboneId: basics.backbone.id, tags: ["t"] } })).createModel.id;
      models.push(id);
      await server.ok(`mutation($i: RecordEvaluationInput!) { recordEvaluation(input: $i) { id } }`, { i: { modelId: id, datasetId, score: 0.3 + i / 100, source: "seed" } });
      if (i > 0) await server.ok(`mutation($i: AddLineageEdgeInput!) { addLineageEdge(input: $i) { id } }`, { i: { parentId: models[i - 1], childId: id, relation: "CHECKPOINT_OF" } });
    }
    // A second connection of its own (another pool, another SQLite handle): writes the server's
    // code never sees.
    other = await openDatabase(server.db.url, { migrate: false });
  });
  afterAll(async () => {
    await other?.close();
    await server?.stop();
  });

  test("a repeated query is a hit with no statement executed, and the same text as a fresh execution", async () => {
    expect((await ask(DASHBOARD, { d: datasetId })).status).toMatch(/hit|miss/);
    const before = server.app.services.database.queryCount();
    const again = await ask(DASHBOARD, { d: datasetId });
    expect(again.status).toBe("hit");
    expect(server.app.services.database.queryCount() - before).toBe(0);
    expect(await compare(DASHBOARD, { d: datasetId })).toBe("hit");
    // An uncacheable query says so, and runs each time.
    expect((await ask(`{ jobs { edges { node { id } } } }`, {})).status).toBe("uncacheable");
  });

  test("a write through the API is seen by the next request", async () => {
    await compare(DASHBOARD, { d: datasetId });
    await server.ok(`mutation($id: ID!) { updateModel(id: $id, input: { description: "changed via the API" }) { id } }`, { id: models[3] });
    const next = await ask(DASHBOARD, { d: datasetId });
    expect(next.status).toBe("miss");
    expect(next.body).toContain("changed via the API");
  });

  test("a write by another connection, past the application, is seen by the next request", async () => {
    await compare(LEADERBOARD, { d: datasetId });
    expect((await ask(LEADERBOARD, { d: datasetId })).status).toBe("hit");
    await other.direct.execute(sql`UPDATE "ModelScore" SET "score" = ${0.99} WHERE "modelId" = ${models[0]!} AND "datasetId" = ${datasetId}`);
    const next = await ask(LEADERBOARD, { d: datasetId });
    expect(next.status).toBe("miss");
    expect(JSON.parse(next.body).data.leaderboard.edges[0].node).toMatchObject({ rank: 1, score: 0.99, model: { id: models[0] } });
  });

  test("random writes from both sides, interleaved with reads: every cached answer equals a fresh one", async () => {
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const pick = () => models[Math.floor(random() * models.length)]!;
    const writes: Array<() => Promise<unknown>> = [
      () => server.ok(`mutation($id: ID!, $d: String!) { updateModel(id: $id, input: { description: $d }) { id } }`, { id: pick(), d: `api-${random()}` }),
      () => server.ok(`mutation($i: RecordEvaluationInput!) { recordEvaluation(input: $i) { id } }`, { i: { modelId: pick(), datasetId, score: Math.round(random() * 1000) / 1000, source: "random" } }),
      () => other.direct.execute(sql`UPDATE "Model" SET "description" = ${`direct-${random()}`} WHERE "id" = ${pick()}`),
      () => other.direct.execute(sql`UPDATE "ModelScore" SET "score" = ${Math.round(random() * 1000) / 1000} WHERE "modelId" = ${pick()}`),
      () => other.direct.execute(sql`UPDATE "Model" SET "deletedAt" = ${random() < 0.5 ? new Date() : null} WHERE "id" = ${models[models.length - 1]!}`),
      () => other.direct.execute(sql`DELETE FROM "ModelTag" WHERE "modelId" = ${pick()}`),
    ];
    const statuses = new Map<string, number>();
    for (let step = 0; step < 40; step++) {
      if (random() < 0.5) await writes[Math.floor(random() * writes.length)]!();
      for (const [query, variables] of [[DASHBOARD, { d: datasetId }], [LEADERBOARD, { d: datasetId }]] as const) {
        const status = (await compare(query, variables))!;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }
    // Both paths were exercised: steps without a write were answered from the cache.
    expect(statuses.get("hit")).toBeGreaterThan(10);
    expect(statuses.get("miss")).toBeGreaterThan(10);
  });
});

describe("with the job runner in its own process (layermerge serve, SQLite)", () => {
  let dir: string;
  let server: RunningProcess;
  let url: string;

  beforeAll(async () => {
    ensureBuilt();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-response-cache-"));
    server = startLayermerge(["serve"], {
      LAYERMERGE_DATA_DIR: dir, DATABASE_URL: `file:${path.join(dir, "layermerge.db")}`, PORT: "0", HOST: "127.0.0.1", REDIS_URL: "",
      LAYERMERGE_DATASET_ROOTS: dir, LAYERMERGE_JOB_PROCESS: "child", LOG_LEVEL: "warn",
    });
    url = (await server.waitFor(/serving GraphQL at (http:\/\/\S+\/graphql)/, 120_000))[1]!;
  });
  afterAll(async () => {
    await server?.kill("SIGTERM");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("a model the runner child writes appears in the next dashboard answer", async () => {
    const taskId = (await gql(url, `mutation { createTask(input: { key: "sem", name: "Semantic", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    const origin = url.replace(/\/graphql$/, "");
    const ids: string[] = [];
    for (let s = 0; s < 2; s++) {
      const res = await fetch(`${origin}/artifacts`, { method: "PUT", body: twoTensorModel(s, 1024) });
      const { sha256 } = (await res.json()) as { sha256: string };
      ids.push((await gql(url, `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: `in-${s}`, taskId, artifactSha256: sha256 } })).registerModel.id);
    }
    const page = `{ models(first: 50, orderBy: { field: NAME }) { edges { node { name parents { name } } } } }`;
    const read = async () => {
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: page }) });
      return { status: res.headers.get("x-layermerge-cache"), names: ((await res.json()) as any).data.models.edges.map((e: any) => e.node.name) as string[] };
    };
    await read();
    expect((await read()).status).toBe("hit");
    const job = (await gql(url, `mutation($i: StartMergeInput!) { startMerge(input: $i) { id } }`, { i: { anchorId: ids[0], modelIds: [ids[1]], output: { name: "merged-by-child" } } })).startMerge.id;
    // Poll the dashboard (cached between the runner's writes) until the job says it is done; the
    // answer read after that must hold the merged model with its parents.
    for (let i = 0; i < 600; i++) {
      const { job: state } = await gql(url, `query($id: ID!) { job(id: $id) { status } }`, { id: job });
      if (state.status === "SUCCEEDED") break;
      expect(["QUEUED", "RUNNING"]).toContain(state.status);
      await read();
      await sleep(50);
    }
    const after = await read();
    expect(after.names).toEqual(["in-0", "in-1", "merged-by-child"]);
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: `{ models(first: 50, orderBy: { field: NAME }) { edges { node { name parents { name } } } } }` }) });
    const body = (await res.json()) as any;
    expect(body.data.models.edges[2].node.parents.map((p: any) => p.name).sort()).toEqual(["in-0", "in-1"]);
  });
});
