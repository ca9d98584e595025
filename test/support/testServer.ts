import { loadConfig } from "../../src/config/config";
import { startApp } from "../../src/main";
import { createTestDatabase, DatabaseKind, TestDatabase } from "./testDatabase";

export interface GqlResult<T = any> {
  status: number;
  data?: T;
  errors?: Array<{ message: string; extensions?: Record<string, any>; path?: string[] }>;
}

export interface TestServer {
  url: string;
  origin: string;
  db: TestDatabase;
  app: Awaited<ReturnType<typeof startApp>>;
  gql<T = any>(query: string, variables?: Record<string, unknown>, options?: { token?: string; headers?: Record<string, string> }): Promise<GqlResult<T>>;
  /** Like gql, but fails the test on any GraphQL error. */
  ok<T = any>(query: string, variables?: Record<string, unknown>, options?: { token?: string }): Promise<T>;
  stop(): Promise<void>;
}

/** A real server on a random loopback port over a real database. */
export async function startTestServer(kind: DatabaseKind, env: Record<string, string> = {}): Promise<TestServer> {
  const db = await createTestDatabase(kind);
  // Fixtures record datasets stored elsewhere (verify: false) under /data, which the dataset roots
  // must hold; tests that write real datasets pass their own LAYERMERGE_DATASET_ROOTS.
  // Jobs run in the test's own process (LAYERMERGE_JOB_PROCESS=inline) so tests can reach into the
  // runner and no child has to compile the sources again; the job-runner child of the default
  // shape is tested through real `layermerge serve` processes (jobProcess.test.ts).
  const config = loadConfig({ DATABASE_URL: db.url, LAYERMERGE_DATA_DIR: db.dataDir, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "silent", LAYERMERGE_DATASET_ROOTS: "/data", LAYERMERGE_JOB_PROCESS: "inline", ...env });
  const app = await startApp(config);
  const url = app.server.url;
  const gql = async <T>(query: string, variables?: Record<string, unknown>, options: { token?: string; headers?: Record<string, string> } = {}): Promise<GqlResult<T>> => {
    const headers: Record<string, string> = { "content-type": "application/json", ...(options.headers ?? {}) };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const res = await fetch(url, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
    const body = (await res.json()) as GqlResult<T>;
    return { ...body, status: res.status };
  };
  return {
    url,
    origin: url.replace(/\/graphql$/, ""),
    db,
    app,
    gql,
    async ok<T>(query: string, variables?: Record<string, unknown>, options?: { token?: string }) {
      const result = await gql<T>(query, variables, options);
      if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors, null, 2)}`);
      return result.data as T;
    },
    async stop() {
      await app.stop();
      await db.cleanup();
    },
  };
}
