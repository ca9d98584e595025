import { startTestServer, TestServer } from "./support/testServer";

/** Starts a server as `npm start` does: NODE_ENV unset (Jest sets it to "test"). */
async function startLikeNpmStart(env: Record<string, string> = {}): Promise<TestServer> {
  const saved = process.env.NODE_ENV;
  delete process.env.NODE_ENV;
  try {
    return await startTestServer("sqlite", env);
  } finally {
    process.env.NODE_ENV = saved;
  }
}

async function post(url: string, body: string, contentType = "application/json") {
  const res = await fetch(url, { method: "POST", headers: { "content-type": contentType }, body });
  const text = await res.text();
  return { status: res.status, type: res.headers.get("content-type") ?? "", text };
}

/** Whatever a response must never show: a stack frame or a path of the server's files. */
function expectNoLeak(text: string) {
  expect(text).not.toMatch(/\bat .+:\d+:\d+/);
  expect(text).not.toContain(process.cwd());
  expect(text).not.toMatch(/node_modules|stacktrace|<html|<pre/i);
}

describe("error responses (NODE_ENV unset)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startLikeNpmStart({ LAYERMERGE_MAX_QUERY_DEPTH: "5" });
  });
  afterAll(() => server.stop());

  test("depth and cost refusals are 400 QUERY_TOO_COMPLEX, not 500", async () => {
    const deep = await server.gql(`{ models { edges { node { parents { parents { name } } } } } }`);
    expect(deep.status).toBe(400);
    expect(deep.errors?.[0].extensions).toEqual({ code: "QUERY_TOO_COMPLEX", depth: 6, maxDepth: 5 });
    const costly = await server.gql(`{ models(first: 500) { edges { node { tasks: parents { name } a: children { name } b: parentEdges { relation } c: childEdges { relation } d: sourceDataset { name } e: targetDataset { name } f: task { key } g: backbone { name } h: structure { hash } i: artifact { sha256 } } } } }`);
    expect(costly.status).toBe(400);
    expect(costly.errors?.[0].extensions?.code).toBe("QUERY_TOO_COMPLEX");
  });

  test("GraphQL errors carry a code and no stack trace", async () => {
    for (const query of [`{ tasks {`, `{ nope }`, `query($n: Int!) { tasks { id } }`]) {
      const res = await post(server.url, JSON.stringify({ query }));
      expect(res.status).toBe(400);
      const body = JSON.parse(res.text);
      expect(body.errors[0].extensions.code).toMatch(/^(GRAPHQL_PARSE_FAILED|GRAPHQL_VALIDATION_FAILED|BAD_USER_INPUT)$/);
      expectNoLeak(res.text);
    }
  });

  test("malformed JSON and over-size bodies get JSON errors with codes, never Express's HTML page", async () => {
    const malformed = await post(server.url, `{"query": "{ tasks { id } }"`);
    expect(malformed.status).toBe(400);
    expect(malformed.type).toMatch(/application\/json/);
    expect(JSON.parse(malformed.text)).toEqual({ errors: [{ message: "the request body is not valid JSON", extensions: { code: "BAD_REQUEST" } }] });
    expectNoLeak(malformed.text);

    const huge = await post(server.url, JSON.stringify({ query: `{ tasks { id } }`, variables: { pad: "x".repeat(3 * 1024 * 1024) } }));
    expect(huge.status).toBe(413);
    expect(JSON.parse(huge.text).errors[0].extensions.code).toBe("PAYLOAD_TOO_LARGE");
    expectNoLeak(huge.text);
  });

  test("other routes answer { error: { code, message } }", async () => {
    const unknown = await post(`${server.origin}/nope`, "{}");
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.text)).toEqual({ error: { code: "NOT_FOUND", message: "no route for POST /nope" } });
    const asset = await fetch(`${server.origin}/assets/missing-0123.js`);
    expect(asset.status).toBe(404);
    const text = await asset.text();
    expect(JSON.parse(text).error.code).toBe("NOT_FOUND");
    expectNoLeak(text);
  });
});

test("/healthz says which dependency is unreachable, not why (the reason names server paths)", async () => {
  const server = await startLikeNpmStart();
  const artifacts = `${server.db.dataDir}/artifacts`;
  const fs = await import("node:fs");
  try {
    fs.rmSync(artifacts, { recursive: true, force: true });
    const res = await fetch(`${server.origin}/healthz`);
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ status: "unavailable", database: "ok", artifacts: "unreachable" });
    expect(text).not.toContain(server.db.dataDir);
  } finally {
    fs.mkdirSync(artifacts, { recursive: true });
    await server.stop();
  }
});

test("LAYERMERGE_DEBUG=1 lets GraphQL errors carry stack traces", async () => {
  const server = await startLikeNpmStart({ LAYERMERGE_DEBUG: "1" });
  try {
    const res = await post(server.url, JSON.stringify({ query: `{ tasks {` }));
    expect(JSON.parse(res.text).errors[0].extensions.stacktrace).toEqual(expect.arrayContaining([expect.stringMatching(/Syntax Error/)]));
  } finally {
    await server.stop();
  }
});
