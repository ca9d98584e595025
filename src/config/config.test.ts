import * as path from "node:path";
import { ConfigError, loadConfig, redact } from "./config";

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
    });
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

  test("the queue is reconciled with the database every 30 s unless LAYERMERGE_RECONCILE_MS says otherwise", () => {
    expect(loadConfig({}).reconcileMs).toBe(30_000);
    expect(loadConfig({ LAYERMERGE_RECONCILE_MS: "250" }).reconcileMs).toBe(250);
  });

  test("redact hides passwords", () => {
    expect(redact("postgresql://user:secret@h:5432/db")).toBe("postgresql://user:***@h:5432/db");
    // Redis URLs usually carry a password without a user name.
    expect(redact("redis://:secret@cache:6379/0")).toBe("redis://:***@cache:6379/0");
    expect(() => loadConfig({ DATABASE_URL: "mysql://user:secret@h/db" })).toThrow(/\*\*\*/);
  });
});
