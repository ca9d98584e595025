import * as http from "node:http";
import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { upgradeStatus, wsOperation } from "./support/wsClient";

const EVIL = "http://evil.example";
const MINT_ADMIN = `mutation { createApiToken(input: { name: "x", role: ADMIN }) { token } }`;
const JOB_UPDATED = `subscription($id: ID!) { jobUpdated(id: $id) { id status } }`;

/** models > edges > node > parents > parents > … : `levels` nested fields in all. */
function deepQuery(levels: number): string {
  let inner = "name";
  for (let i = 0; i < levels - 4; i++) inner = `parents { ${inner} }`;
  return `{ models { edges { node { ${inner} } } } }`;
}

/** 500 models × 1000 tensors × (edge + node): about a million objects. */
const PAGE_BOMB = `{ models(first: 500) { edges { node { structure { tensors(first: 1000) { edges { node { name } } } } } } } }`;

/** A GraphQL POST with headers fetch may not set (Host). */
function rawPost(url: string, query: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ query });
    const req = http.request(url, { method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers } }, (res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => (text += chunk.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("the WebSocket at /graphql (auth off, the default)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer("sqlite", { LAYERMERGE_CORS_ORIGINS: "https://dash.example.org" });
  });
  afterAll(() => server.stop());

  const tokenCount = () => server.app.services.database.prisma.apiToken.count();

  test("a page from a foreign origin is refused with 403 before the handshake, and mints nothing", async () => {
    const refused = await upgradeStatus(server.url, EVIL);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toMatchObject({ error: { code: "FORBIDDEN" } });

    const attack = await wsOperation(server.url, { query: MINT_ADMIN }, { origin: EVIL });
    expect(attack.results).toEqual([]);
    expect(attack.errors).toBeUndefined();
    expect(await tokenCount()).toBe(0);
    // "null" (sandboxed frames) and a look-alike host are foreign too.
    expect((await upgradeStatus(server.url, "null")).status).toBe(403);
    expect((await upgradeStatus(server.url, `${server.origin}.evil.example`)).status).toBe(403);
  });

  test("the server's own origin, a listed origin and clients without Origin may connect", async () => {
    expect((await upgradeStatus(server.url, server.origin)).status).toBe(101);
    expect((await upgradeStatus(server.url, "https://dash.example.org")).status).toBe(101);
    expect((await upgradeStatus(server.url)).status).toBe(101);
    // Same host, another port: another origin.
    const port = Number(new URL(server.origin).port);
    expect((await upgradeStatus(server.url, `http://127.0.0.1:${port === 65535 ? 1 : port + 1}`)).status).toBe(403);
  });

  test("DNS rebinding: a page whose host name points at the loopback server is refused over HTTP and the socket", async () => {
    const port = new URL(server.origin).port;
    const rebound = `evil.example:${port}`; // what the browser sends once evil.example resolves to 127.0.0.1
    const overHttp = await rawPost(server.url, MINT_ADMIN, { host: rebound, origin: `http://${rebound}` });
    expect(overHttp.status).toBe(403);
    expect(JSON.parse(overHttp.body).errors[0].extensions.code).toBe("FORBIDDEN");
    expect(await tokenCount()).toBe(0);
    expect((await upgradeStatus(server.url, `http://${rebound}`, rebound)).status).toBe(403);
    // Loopback names are what local clients use.
    expect((await rawPost(server.url, `{ tasks { id } }`, { host: `localhost:${port}` })).status).toBe(200);
    expect((await upgradeStatus(server.url, `http://localhost:${port}`, `localhost:${port}`)).status).toBe(101);
    // A listed origin's host (a local proxy passing its public Host) is accepted too.
    expect((await rawPost(server.url, `{ tasks { id } }`, { host: "dash.example.org" })).status).toBe(200);
  });

  test("only subscriptions run over the socket: mutations and queries get BAD_REQUEST", async () => {
    const mutation = await wsOperation(server.url, { query: MINT_ADMIN }, { origin: server.origin });
    expect(mutation.results).toEqual([]);
    expect(mutation.errors?.[0].extensions?.code).toBe("BAD_REQUEST");
    expect(mutation.errors?.[0].message).toMatch(/HTTP/);
    expect(await tokenCount()).toBe(0);

    const query = await wsOperation(server.url, { query: `{ tasks { id } }` });
    expect(query.errors?.[0].extensions?.code).toBe("BAD_REQUEST");
    expect(query.results).toEqual([]);
  });

  test("a 40-deep query and a nested-page bomb are refused as over HTTP", async () => {
    const deep = await wsOperation(server.url, { query: deepQuery(40) });
    expect(deep.results).toEqual([]);
    expect(deep.errors?.[0].extensions).toMatchObject({ code: "QUERY_TOO_COMPLEX", depth: 40, maxDepth: 12 });
    const overHttp = await server.gql(deepQuery(40));
    expect(overHttp.errors?.[0].extensions).toMatchObject({ code: "QUERY_TOO_COMPLEX", depth: 40 });

    const bomb = await wsOperation(server.url, { query: PAGE_BOMB });
    expect(bomb.results).toEqual([]);
    expect(bomb.errors?.[0].extensions?.code).toBe("QUERY_TOO_COMPLEX");
    // models: 1 + 500 × (edges 1 + node 1 + structure 1 + tensors (5 of its own + 1 + 1000 × (edge 1 + node 1)))
    expect(bomb.errors?.[0].extensions?.complexity).toBe(1 + 500 * (1 + 1 + 1 + (5 + 1 + 1000 * 2)));
  });

  test("a message larger than an HTTP body may be (2 MB) closes the socket with 1009, unread", async () => {
    const WebSocket = (await import("ws")).default;
    const socket = new WebSocket(server.url.replace(/^http/, "ws"), "graphql-transport-ws");
    await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
    const closed = new Promise<number>((resolve) => socket.once("close", (code: number) => resolve(code)));
    socket.send(JSON.stringify({ type: "connection_init", payload: { pad: "x".repeat(3 * 1024 * 1024) } }));
    expect(await closed).toBe(1009);
  });

  test("errors on the socket carry extensions.code; parse and validation errors too", async () => {
    const missing = await wsOperation(server.url, { query: JOB_UPDATED, variables: { id: "nope" } });
    expect(missing.results.flatMap((r) => r.errors ?? [])[0]?.extensions?.code ?? missing.errors?.[0].extensions?.code).toBe("NOT_FOUND");
    const syntax = await wsOperation(server.url, { query: `subscription {` });
    expect(syntax.errors?.[0].extensions?.code).toBe("GRAPHQL_PARSE_FAILED");
    expect(syntax.closeCode).toBeUndefined();
    const invalid = await wsOperation(server.url, { query: `subscription { jobUpdated(id: "1") { nope } }` });
    expect(invalid.errors?.[0].extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
  });
});

describe.each(databaseKinds)("the WebSocket with auth (%s)", (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind, { LAYERMERGE_AUTH: "all", LAYERMERGE_MAX_QUERY_DEPTH: "1" });
  });
  afterAll(() => server.stop());

  test("no token: the connection is refused (4403); a token: subscriptions run, within the same limits", async () => {
    const anonymous = await wsOperation(server.url, { query: JOB_UPDATED, variables: { id: "x" } });
    expect(anonymous.closeCode).toBe(4403);
    const { token } = await server.app.services.tokens.create({ name: "r", role: "READER" });
    // jobUpdated(1) > id(2) exceeds a depth limit of 1: the limits apply to subscriptions.
    const tooDeep = await wsOperation(server.url, { query: JOB_UPDATED, variables: { id: "x" } }, { token });
    expect(tooDeep.errors?.[0].extensions).toEqual({ code: "QUERY_TOO_COMPLEX", depth: 2, maxDepth: 1 });
    const notFound = await wsOperation(server.url, { query: `subscription { jobUpdated(id: "x") { __typename } }` }, { token });
    expect([...(notFound.errors ?? []), ...notFound.results.flatMap((r) => r.errors ?? [])][0]?.extensions?.code).toBe("NOT_FOUND");
  });

  test("a stream that fails midway is masked as INTERNAL_SERVER_ERROR, its message kept from the client", async () => {
    const { token } = await server.app.services.tokens.create({ name: "s", role: "READER" });
    const prisma = server.app.services.database.prisma;
    const job = await prisma.job.create({ data: { kind: "MERGE", status: "SUCCEEDED", progress: 1, payload: {} } });
    // The existence check reads only the id; the stream's first state reads every column.
    await prisma.$executeRawUnsafe(`ALTER TABLE "Job" RENAME COLUMN "message" TO "messageAway"`);
    let outcome;
    try {
      // (__typename only: this server's depth limit is 1)
      outcome = await wsOperation(server.url, { query: `subscription($id: ID!) { jobUpdated(id: $id) { __typename } }`, variables: { id: job.id } }, { token });
    } finally {
      await prisma.$executeRawUnsafe(`ALTER TABLE "Job" RENAME COLUMN "messageAway" TO "message"`);
      await prisma.job.delete({ where: { id: job.id } });
    }
    expect(outcome.errors).toEqual([{ message: "Internal server error", extensions: { code: "INTERNAL_SERVER_ERROR" } }]);
    const working = await wsOperation(server.url, { query: `subscription { jobUpdated(id: "x") { __typename } }` }, { token });
    expect(working.errors?.[0].extensions?.code ?? working.results[0]?.errors?.[0].extensions?.code).toBe("NOT_FOUND");
  });

  test("a database error while checking the token is an internal error (4500), not an auth refusal", async () => {
    const { token } = await server.app.services.tokens.create({ name: "w", role: "WRITER" });
    const prisma = server.app.services.database.prisma;
    await prisma.$executeRawUnsafe(`ALTER TABLE "ApiToken" RENAME TO "ApiTokenAway"`);
    try {
      const outage = await wsOperation(server.url, { query: `subscription { jobUpdated(id: "x") { __typename } }` }, { token });
      expect(outage.closeCode).toBe(4500);
      expect(outage.closeReason).toBe("Internal server error");
    } finally {
      await prisma.$executeRawUnsafe(`ALTER TABLE "ApiTokenAway" RENAME TO "ApiToken"`);
    }
    const healthy = await wsOperation(server.url, { query: `subscription { jobUpdated(id: "x") { __typename } }` }, { token });
    expect(healthy.closeCode).toBeUndefined();
  });
});
