import { availableParallelism } from "node:os";
import * as path from "node:path";
import { ConfigError, exposure, isLoopbackHost, loadConfig, redact } from "./config";

describe("loadConfig", () => {
  test("defaults: embedded SQLite under ./data, loopback, port 4000, auth off", () => {
    const config = loadConfig({}, "/srv/app");
    expect(config).toMatchObject({
      databaseUrl: `file:${path.join("/srv/app/data", "layermerge.db")}`,
      databaseProvider: "sqlite",
      host: "127.0.0.1",
      port: 4000,
      dataDir: "/srv/app/data",
      auth: "off",
      corsOrigins: [],
      maxQueryDepth: 12,
      maxQueryComplexity: 5000,
      debug: false,
    });
  });

  test("LAYERMERGE_DEBUG=1 lets error responses carry stack traces", () => {
    expect(loadConfig({ LAYERMERGE_DEBUG: "1" }).debug).toBe(true);
    expect(loadConfig({ LAYERMERGE_DEBUG: "0" }).debug).toBe(false);
  });

  test("PostgreSQL by URL scheme, data dir and CORS origins from the environment", () => {
    const config = loadConfig({
      DATABASE_URL: "postgresql://u:p@db:5432/reg",
      LAYERMERGE_DATA_DIR: "/var/lib/lm",
      LAYERMERGE_CORS_ORIGINS: "https://a.example.org, http://localhost:5173",
      HOST: "0.0.0.0",
      PORT: "8080",
    });
    expect(config.databaseProvider).toBe("postgres");
    expect(config.dataDir).toBe("/var/lib/lm");
    expect(config.corsOrigins).toEqual(["https://a.example.org", "http://localhost:5173"]);
    expect(config.host).toBe("0.0.0.0");
    expect(config.port).toBe(8080);
  });

  test.each([
    [{ DATABASE_URL: "mysql://x" }, /DATABASE_URL must start with file: .* or postgres:\/\//],
    [{ PORT: "80a" }, /PORT must be an integer from 0 to 65535/],
    [{ PORT: "70000" }, /PORT/],
    [{ LAYERMERGE_AUTH: "yes" }, /LAYERMERGE_AUTH must be off, writes or all/],
    [{ LAYERMERGE_MAX_QUERY_DEPTH: "0" }, /LAYERMERGE_MAX_QUERY_DEPTH/],
    [{ LAYERMERGE_CORS_ORIGINS: "dash.example.org" }, /not an origin/],
    [{ LAYERMERGE_ALLOW_OPEN: "yes" }, /LAYERMERGE_ALLOW_OPEN must be 1 or 0/],
    [{ LAYERMERGE_DATASET_ROOTS: " : " }, /LAYERMERGE_DATASET_ROOTS must name at least one folder/],
    [{ LAYERMERGE_UPLOAD_TTL: "24" }, /LAYERMERGE_UPLOAD_TTL must be a duration like 24h, 30m or 2s \(got "24"\)/],
    [{ LAYERMERGE_UPLOAD_TTL: "0s" }, /LAYERMERGE_UPLOAD_TTL/],
    [{ LAYERMERGE_UPLOAD_TTL: "1.5h" }, /LAYERMERGE_UPLOAD_TTL/],
    [{ LAYERMERGE_METRICS_TOKEN: "short" }, /LAYERMERGE_METRICS_TOKEN must be at least 16/],
    [{ LAYERMERGE_METRICS_TOKEN: "with a space in the middle" }, /LAYERMERGE_METRICS_TOKEN/],
    [{ LAYERMERGE_DEBUG: "yes" }, /LAYERMERGE_DEBUG must be 1 or 0/],
    [{ LAYERMERGE_RECONCILE_MS: "50" }, /LAYERMERGE_RECONCILE_MS must be an integer from 100 to 3600000 \(got "50"\)/],
    [{ LAYERMERGE_RECONCILE_MS: "30s" }, /LAYERMERGE_RECONCILE_MS must be an integer/],
  ])("refuses %p with one clear line", (env, message) => {
    let error: unknown;
    try {
      loadConfig(env as NodeJS.ProcessEnv);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain("\n");
  });

  test("dataset roots: <data dir>/datasets plus the import roots by default, else LAYERMERGE_DATASET_ROOTS", () => {
    expect(loadConfig({}, "/srv/app").datasetRoots).toEqual(["/srv/app/data/datasets"]);
    expect(loadConfig({ LAYERMERGE_DATA_DIR: "/var/lm", LAYERMERGE_IMPORT_ROOTS: "/models:rel" }, "/srv/app").datasetRoots).toEqual(["/var/lm/datasets", "/models", "/srv/app/rel"]);
    expect(loadConfig({ LAYERMERGE_DATASET_ROOTS: "/data/cityscapes: /data/gta5 :ds", LAYERMERGE_IMPORT_ROOTS: "/models" }, "/srv/app").datasetRoots).toEqual(["/data/cityscapes", "/data/gta5", "/srv/app/ds"]);
  });

  test("loopback hosts: 127.0.0.0/8, ::1 (also IPv4-mapped) and localhost; nothing else", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "localhost", "LOCALHOST"]) expect({ host, loopback: isLoopbackHost(host) }).toEqual({ host, loopback: true });
    for (const host of ["0.0.0.0", "::", "10.0.0.5", "128.0.0.1", "::ffff:10.0.0.1", "example.org", "localhost.example.org", "127.0.0.1.nip.io"]) expect({ host, loopback: isLoopbackHost(host) }).toEqual({ host, loopback: false });
  });

  test("auth off on a non-loopback HOST is refused unless LAYERMERGE_ALLOW_OPEN=1, which warns", () => {
    const at = (env: NodeJS.ProcessEnv) => exposure(loadConfig(env));
    expect(at({})).toEqual({});
    expect(at({ HOST: "0.0.0.0", LAYERMERGE_AUTH: "writes" })).toEqual({});
    expect(at({ HOST: "0.0.0.0", LAYERMERGE_AUTH: "all" })).toEqual({});
    expect(at({ HOST: "::1", LAYERMERGE_AUTH: "off" })).toEqual({});
    const refused = at({ HOST: "0.0.0.0" });
    expect(refused.warning).toBeUndefined();
    expect(refused.refusal).toMatch(/LAYERMERGE_AUTH/);
    expect(refused.refusal).toMatch(/LAYERMERGE_ALLOW_OPEN=1/);
    expect(refused.refusal).not.toContain("\n");
    expect(at({ HOST: "0.0.0.0", LAYERMERGE_ALLOW_OPEN: "0" }).refusal).toBeDefined();
    const open = at({ HOST: "10.0.0.5", LAYERMERGE_ALLOW_OPEN: "1" });
    expect(open.refusal).toBeUndefined();
    expect(open.warning).toMatch(/without authentication on 10\.0\.0\.5/);
  });

  test("upload TTL: 24 hours by default, durations as token expiries take them plus seconds; metrics token off by default", () => {
    expect(loadConfig({}).uploadTtlMs).toBe(24 * 60 * 60 * 1000);
    expect(loadConfig({ LAYERMERGE_UPLOAD_TTL: "2s" }).uploadTtlMs).toBe(2000);
    expect(loadConfig({ LAYERMERGE_UPLOAD_TTL: "30m" }).uploadTtlMs).toBe(30 * 60 * 1000);
    expect(loadConfig({ LAYERMERGE_UPLOAD_TTL: "3d" }).uploadTtlMs).toBe(3 * 24 * 60 * 60 * 1000);
    expect(loadConfig({}).metricsToken).toBeNull();
    expect(loadConfig({ LAYERMERGE_METRICS_TOKEN: "0123456789abcdef" }).metricsToken).toBe("0123456789abcdef");
  });

  test("the queue is reconciled with the database every 30 s unless LAYERMERGE_RECONCILE_MS says otherwise", () => {
    expect(loadConfig({}).reconcileMs).toBe(30_000);
    expect(loadConfig({ LAYERMERGE_RECONCILE_MS: "250" }).reconcileMs).toBe(250);
  });

  test("job concurrency: 1 by default, LAYERMERGE_JOB_CONCURRENCY, or its old name LAYERMERGE_WORKERS", () => {
    expect(loadConfig({}).jobConcurrency).toBe(1);
    expect(loadConfig({ LAYERMERGE_JOB_CONCURRENCY: "4" }).jobConcurrency).toBe(4);
    expect(loadConfig({ LAYERMERGE_WORKERS: "3" }).jobConcurrency).toBe(3);
    expect(loadConfig({ LAYERMERGE_JOB_CONCURRENCY: "2", LAYERMERGE_WORKERS: "2" }).jobConcurrency).toBe(2);
    expect(() => loadConfig({ LAYERMERGE_JOB_CONCURRENCY: "2", LAYERMERGE_WORKERS: "5" })).toThrow(/LAYERMERGE_JOB_CONCURRENCY.*LAYERMERGE_WORKERS.*disagree/);
    expect(() => loadConfig({ LAYERMERGE_WORKERS: "0" })).toThrow(/LAYERMERGE_WORKERS must be an integer from 1 to 64/);
    expect(() => loadConfig({ LAYERMERGE_JOB_CONCURRENCY: "65" })).toThrow(/LAYERMERGE_JOB_CONCURRENCY must be an integer from 1 to 64/);
  });

  test("search threads: the cores shared among the jobs by default, LAYERMERGE_SEARCH_THREADS otherwise", () => {
    const cores = availableParallelism();
    expect(loadConfig({}).searchThreads).toBe(Math.max(1, cores));
    expect(loadConfig({ LAYERMERGE_JOB_CONCURRENCY: "2" }).searchThreads).toBe(Math.max(1, Math.floor(cores / 2)));
    // more jobs than cores: each search still scores one candidate at a time
    expect(loadConfig({ LAYERMERGE_JOB_CONCURRENCY: String(cores + 1) }).searchThreads).toBe(1);
    expect(loadConfig({ LAYERMERGE_SEARCH_THREADS: "3" }).searchThreads).toBe(3);
    expect(() => loadConfig({ LAYERMERGE_SEARCH_THREADS: "0" })).toThrow(/LAYERMERGE_SEARCH_THREADS must be an integer from 1 to 64/);
  });

  test("the object store's variables are read here, for the threads that merge, and nothing else", () => {
    const config = loadConfig({ S3_ENDPOINT: "http://127.0.0.1:9000", AWS_ACCESS_KEY_ID: "k", LAYERMERGE_CACHE_BYTES: "1024", PATH: "/usr/bin", LAYERMERGE_AUTH: "writes" });
    expect(config.storeEnv).toEqual({ S3_ENDPOINT: "http://127.0.0.1:9000", AWS_ACCESS_KEY_ID: "k", LAYERMERGE_CACHE_BYTES: "1024" });
  });

  test("redact hides passwords", () => {
    expect(redact("postgresql://user:secret@h:5432/db")).toBe("postgresql://user:***@h:5432/db");
    // Redis URLs usually carry a password without a user name.
    expect(redact("redis://:secret@cache:6379/0")).toBe("redis://:***@cache:6379/0");
    expect(() => loadConfig({ DATABASE_URL: "mysql://user:secret@h/db" })).toThrow(/\*\*\*/);
  });
});
