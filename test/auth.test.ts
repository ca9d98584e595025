import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { main } from "../src/cli/main";

const CREATE_TASK = `mutation($k: String!) { createTask(input: { key: $k, name: "t", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`;

async function cli(server: TestServer, args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = jest.spyOn(console, "log").mockImplementation((...a) => void out.push(a.join(" ")));
  const error = jest.spyOn(console, "error").mockImplementation((...a) => void err.push(a.join(" ")));
  const saved = { ...process.env };
  process.env.DATABASE_URL = server.db.url;
  process.env.LAYERMERGE_DATA_DIR = server.db.dataDir;
  try {
    const code = await main(args);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    process.env = saved;
    log.mockRestore();
    error.mockRestore();
  }
}

describe.each(databaseKinds)("auth (%s)", (kind) => {
  describe("LAYERMERGE_AUTH=writes", () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(kind, { LAYERMERGE_AUTH: "writes" });
    });
    afterAll(() => server.stop());

    test("CLI creates tokens that are printed once and stored only as a hash", async () => {
      const created = await cli(server, ["token", "create", "--role", "WRITER", "--name", "ci-bot", "--expires", "30d"]);
      expect(created.code).toBe(0);
      // stdout: "id     <id>" then "token  <token>"
      const [idLine, tokenLine] = created.out.trim().split("\n");
      const token = tokenLine.replace(/^token\s+/, "");
      expect(token).toMatch(/^lm_[A-Za-z0-9_-]{43}$/);
      const rows = await server.app.services.database.prisma.apiToken.findMany();
      expect(rows).toHaveLength(1);
      expect(idLine).toBe(`id     ${rows[0].id}`);
      expect(JSON.stringify(rows)).not.toContain(token);
      const days = (rows[0].expiresAt!.getTime() - Date.now()) / 86_400_000;
      expect(days).toBeGreaterThan(29.9);
      expect(days).toBeLessThanOrEqual(30);

      const listed = await cli(server, ["token", "list"]);
      expect(listed.out).toContain("ci-bot");
      expect(listed.out).toContain("WRITER");
      expect(listed.out).not.toContain(token);

      const bad = await cli(server, ["token", "create", "--role", "KING", "--name", "x"]);
      expect(bad.code).toBe(1);
      expect(bad.err).toMatch(/role must be one of READER, WRITER, ADMIN/);
      const badExpiry = await cli(server, ["token", "create", "--role", "READER", "--name", "x", "--expires", "soon"]);
      expect(badExpiry.err).toMatch(/30d/);
    });

    test("reads are open, writes need a WRITER token, token admin needs ADMIN", async () => {
      const tokenOf = async (role: string, name: string) => JSON.parse((await cli(server, ["token", "create", "--role", role, "--name", name, "--json"])).out).token as string;
      const reader = await tokenOf("READER", "r");
      const writer = await tokenOf("WRITER", "w");
      const admin = await tokenOf("ADMIN", "a");

      expect((await server.gql(`{ tasks { id } }`)).errors).toBeUndefined();
      const anonymousWrite = await server.gql(CREATE_TASK, { k: "a" });
      expect(anonymousWrite.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
      expect(anonymousWrite.errors?.[0].message).toMatch(/WRITER/);
      const readerWrite = await server.gql(CREATE_TASK, { k: "b" }, { token: reader });
      expect(readerWrite.errors?.[0].extensions?.code).toBe("FORBIDDEN");
      expect((await server.gql(CREATE_TASK, { k: "c" }, { token: writer })).errors).toBeUndefined();
      expect((await server.gql(CREATE_TASK, { k: "d" }, { token: admin })).errors).toBeUndefined();

      const writerAdmin = await server.gql(`{ apiTokens { id } }`, undefined, { token: writer });
      expect(writerAdmin.errors?.[0].extensions?.code).toBe("FORBIDDEN");
      const { apiTokens } = await server.ok(`{ apiTokens { id name role } }`, undefined, { token: admin });
      expect(apiTokens.map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(["r", "w", "a"]));

      const { createApiToken } = await server.ok(`mutation { createApiToken(input: { name: "dash", role: READER, expiresIn: "1h" }) { token apiToken { id role expiresAt } } }`, undefined, { token: admin });
      expect(createApiToken.token).toMatch(/^lm_/);
      const { viewer } = await server.ok(`{ viewer { role anonymous name } }`, undefined, { token: createApiToken.token });
      expect(viewer).toEqual({ role: "READER", anonymous: false, name: "dash" });

      await server.ok(`mutation($id: ID!) { revokeApiToken(id: $id) { revokedAt } }`, { id: createApiToken.apiToken.id }, { token: admin });
      const revoked = await server.gql(`{ tasks { id } }`, undefined, { token: createApiToken.token });
      expect(revoked.status).toBe(401);
      expect(revoked.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
      expect(revoked.errors?.[0].message).toMatch(/revoked/);

      const garbage = await server.gql(`{ tasks { id } }`, undefined, { token: "lm_nonsense" });
      expect(garbage.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");

      // CLI revoke
      const rows = await server.app.services.database.prisma.apiToken.findMany({ where: { name: "w" } });
      const r = await cli(server, ["token", "revoke", rows[0].id]);
      expect(r.code).toBe(0);
      expect((await server.gql(CREATE_TASK, { k: "e" }, { token: writer })).errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
    });

    test("an expired token is refused", async () => {
      const { record, token } = await server.app.services.tokens.create({ name: "old", role: "ADMIN", expiresIn: "1m" });
      await server.app.services.database.prisma.apiToken.update({ where: { id: record.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
      const result = await server.gql(`{ tasks { id } }`, undefined, { token });
      expect(result.errors?.[0].message).toMatch(/expired/);
    });
  });

  describe("LAYERMERGE_AUTH=all and off", () => {
    test("all: everything needs a token", async () => {
      const server = await startTestServer(kind, { LAYERMERGE_AUTH: "all" });
      try {
        const anonymous = await server.gql(`{ tasks { id } }`);
        expect(anonymous.status).toBe(401);
        expect(anonymous.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
        const { token } = await server.app.services.tokens.create({ name: "r", role: "READER" });
        expect((await server.gql(`{ tasks { id } }`, undefined, { token })).errors).toBeUndefined();
        expect((await server.gql(CREATE_TASK, { k: "x" }, { token })).errors?.[0].extensions?.code).toBe("FORBIDDEN");
      } finally {
        await server.stop();
      }
    });

    test("off: anonymous callers may do everything", async () => {
      const server = await startTestServer(kind, { LAYERMERGE_AUTH: "off" });
      try {
        expect((await server.gql(CREATE_TASK, { k: "x" })).errors).toBeUndefined();
        expect((await server.ok(`{ viewer { role anonymous } }`)).viewer).toEqual({ role: "ADMIN", anonymous: true });
      } finally {
        await server.stop();
      }
    });
  });
});

describe("query limits and CORS", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer("sqlite", { LAYERMERGE_MAX_QUERY_DEPTH: "5", LAYERMERGE_CORS_ORIGINS: "https://dash.example.org" });
  });
  afterAll(() => server.stop());

  test("a query deeper than the limit is refused with a clear error", async () => {
    // models(1) > edges(2) > node(3) > parents(4) > parents(5) > name(6)
    const deep = await server.gql(`{ models { edges { node { parents { parents { name } } } } } }`);
    expect(deep.errors?.[0].extensions).toMatchObject({ code: "QUERY_TOO_COMPLEX", depth: 6, maxDepth: 5 });
    const ok = await server.gql(`{ models { edges { node { parents { name } } } } }`);
    expect(ok.errors).toBeUndefined();
    // Depth through fragments counts too.
    const viaFragment = await server.gql(`query { models { ...E } } fragment E on ModelConnection { edges { node { parents { parents { name } } } } }`);
    expect(viaFragment.errors?.[0].extensions?.code).toBe("QUERY_TOO_COMPLEX");
  });

  test("complexity counts pages: 500 models with many relations exceed the default 5,000", async () => {
    // node(1) + task(1) + backbone(1) + parents(1) + children(1) + sourceDataset(1) + targetDataset(1)
    // = 7 per model, +1 for edges: 500 × 8 + 1 = 4001 fits; adding three more relations (11 per
    // model → 500 × 11 + 1 = 5501) does not.
    const fits = await server.gql(`{ models(first: 500) { edges { node { task { key } backbone { name } parents { name } children { name } sourceDataset { name } targetDataset { name } } } } }`);
    expect(fits.errors).toBeUndefined();
    const tooMuch = await server.gql(`{ models(first: 500) { edges { node { task { key } backbone { name } parents { name } children { name } sourceDataset { name } targetDataset { name } parentEdges { relation } childEdges { relation } src2: sourceDataset { name } } } } }`);
    expect(tooMuch.errors?.[0].extensions).toMatchObject({ code: "QUERY_TOO_COMPLEX", complexity: 5501 });
  });

  test("CORS: allowed origins get headers, others do not", async () => {
    const allowed = await fetch(server.url, { method: "OPTIONS", headers: { origin: "https://dash.example.org", "access-control-request-method": "POST" } });
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://dash.example.org");
    expect(allowed.headers.get("access-control-allow-headers")).toMatch(/Authorization/);
    const other = await fetch(server.url, { method: "OPTIONS", headers: { origin: "https://evil.example.com", "access-control-request-method": "POST" } });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });
});
