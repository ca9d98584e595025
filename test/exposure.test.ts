import { randomBytes } from "node:crypto";
import IORedis from "ioredis";
import { loadConfig } from "../src/config/config";
import { startWorker } from "../src/main";
import { createTestDatabase } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";

/*
 * What a server exposes beyond GraphQL: how artifact downloads may be cached, and who may read
 * /metrics — on the API and on a worker's own metrics port.
 */
const METRICS_TOKEN = `scrape-${randomBytes(12).toString("hex")}`;

async function uploadAndGet(server: TestServer, tokens: { write?: string; read?: string }) {
  const bytes = randomBytes(64);
  const auth = (t?: string): Record<string, string> => (t ? { authorization: `Bearer ${t}` } : {});
  const put = await fetch(`${server.origin}/artifacts`, { method: "PUT", body: bytes, headers: auth(tokens.write) });
  expect(put.status).toBe(201);
  const { sha256 } = (await put.json()) as { sha256: string };
  const get = await fetch(`${server.origin}/artifacts/${sha256}`, { headers: auth(tokens.read) });
  expect(get.status).toBe(200);
  expect(Buffer.from(await get.arrayBuffer())).toEqual(bytes);
  return get.headers.get("cache-control");
}

describe("artifact downloads: Cache-Control follows LAYERMERGE_AUTH", () => {
  test("auth all: private (a shared cache must not hand token-protected bytes to others)", async () => {
    const server = await startTestServer("sqlite", { LAYERMERGE_AUTH: "all" });
    try {
      const writer = await server.app.services.tokens.create({ name: "w", role: "WRITER" });
      const reader = await server.app.services.tokens.create({ name: "r", role: "READER" });
      expect(await uploadAndGet(server, { write: writer.token, read: reader.token })).toBe("private, max-age=31536000, immutable");
    } finally {
      await server.stop();
    }
  });

  test.each(["off", "writes"])("auth %s: public, immutable (anyone may read them anyway)", async (auth) => {
    const server = await startTestServer("sqlite", { LAYERMERGE_AUTH: auth });
    try {
      const writer = await server.app.services.tokens.create({ name: "w", role: "WRITER" });
      expect(await uploadAndGet(server, { write: writer.token })).toBe("public, max-age=31536000, immutable");
    } finally {
      await server.stop();
    }
  });
});

/** Status and body of GET url with the given Authorization header (if any). */
async function scrape(url: string, authorization?: string) {
  const res = await fetch(url, { headers: authorization ? { authorization } : {} });
  return { status: res.status, body: await res.text(), challenge: res.headers.get("www-authenticate") };
}

describe("API /metrics behind LAYERMERGE_METRICS_TOKEN", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer("sqlite", { LAYERMERGE_METRICS_TOKEN: METRICS_TOKEN, LAYERMERGE_AUTH: "writes" });
  });
  afterAll(() => server.stop());

  test("401 without the token, with a wrong one and with an API token; 200 Prometheus text with it", async () => {
    const url = `${server.origin}/metrics`;
    const none = await scrape(url);
    expect(none.status).toBe(401);
    expect(none.challenge).toMatch(/^Bearer/);
    expect(none.body).not.toMatch(/layermerge_/);
    expect((await scrape(url, `Bearer ${METRICS_TOKEN}x`)).status).toBe(401);
    expect((await scrape(url, METRICS_TOKEN)).status).toBe(401);
    const admin = await server.app.services.tokens.create({ name: "a", role: "ADMIN" });
    expect((await scrape(url, `Bearer ${admin.token}`)).status).toBe(401);
    const ok = await scrape(url, `Bearer ${METRICS_TOKEN}`);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatch(/^# HELP layermerge_graphql_requests_total/m);
    // The rest of the API is unaffected by the metrics token.
    expect((await fetch(`${server.origin}/healthz`)).status).toBe(200);
  });
});

// A worker needs Redis (its queue); it runs in this process with a queue prefix of its own.
const withRedis = process.env.REDIS_URL ? describe : describe.skip;
if (!process.env.REDIS_URL) console.warn("exposure.test.ts: the worker metrics port test is skipped without REDIS_URL");

withRedis("a worker's metrics port behind LAYERMERGE_METRICS_TOKEN", () => {
  test("/metrics 401 without the token, 200 with it; /healthz stays open", async () => {
    const db = await createTestDatabase("sqlite");
    const prefix = `lmtest-${randomBytes(4).toString("hex")}`;
    const config = loadConfig({
      DATABASE_URL: db.url,
      LAYERMERGE_DATA_DIR: db.dataDir,
      REDIS_URL: process.env.REDIS_URL,
      LAYERMERGE_QUEUE_PREFIX: prefix,
      LAYERMERGE_METRICS_PORT: "0",
      LAYERMERGE_METRICS_TOKEN: METRICS_TOKEN,
      HOST: "127.0.0.1",
      LOG_LEVEL: "silent",
    });
    const worker = await startWorker(config);
    try {
      expect(worker.metricsPort).toBeGreaterThan(0);
      const url = `http://127.0.0.1:${worker.metricsPort}/metrics`;
      const none = await scrape(url);
      expect(none.status).toBe(401);
      expect(none.challenge).toMatch(/^Bearer/);
      expect((await scrape(url, `Bearer not-${METRICS_TOKEN}`)).status).toBe(401);
      const ok = await scrape(url, `Bearer ${METRICS_TOKEN}`);
      expect(ok.status).toBe(200);
      expect(ok.body).toMatch(/^# HELP layermerge_jobs /m);
      expect((await fetch(`http://127.0.0.1:${worker.metricsPort}/healthz`)).status).toBe(200);
    } finally {
      await worker.stop();
      await db.cleanup();
      const redis = new IORedis(process.env.REDIS_URL!);
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
  });
});
