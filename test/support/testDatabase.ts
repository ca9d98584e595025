import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { Client } from "pg";
import { parsePostgresUrl } from "../../src/persistence/postgresUrl";

export type DatabaseKind = "sqlite" | "postgres";

/**
 * The suites run on SQLite always and, when TEST_DATABASE_URL is set, on PostgreSQL too —
 * each run in a fresh schema so that concurrent runs never collide.
 */
export const databaseKinds: DatabaseKind[] = process.env.TEST_DATABASE_URL ? ["sqlite", "postgres"] : ["sqlite"];

export interface TestDatabase {
  kind: DatabaseKind;
  url: string;
  dataDir: string;
  cleanup(): Promise<void>;
}

/** A fresh SQLite file or PostgreSQL schema (under `base`, default TEST_DATABASE_URL) and a data folder. */
export async function createTestDatabase(kind: DatabaseKind, base = process.env.TEST_DATABASE_URL): Promise<TestDatabase> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "layermerge-test-"));
  if (kind === "sqlite") {
    return {
      kind,
      url: `file:${path.join(dataDir, "test.db")}`,
      dataDir,
      async cleanup() {
        fs.rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  if (!base) throw new Error("TEST_DATABASE_URL is not set");
  const schema = `lm_test_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  const url = new URL(base);
  url.searchParams.set("schema", schema);
  return {
    kind,
    url: url.toString(),
    dataDir,
    async cleanup() {
      const client = new Client({ connectionString: parsePostgresUrl(base).connectionString });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
