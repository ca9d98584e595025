import * as fs from "node:fs";
import * as path from "node:path";
import Database from "better-sqlite3";
import { Client } from "pg";
import { parsePostgresUrl } from "./postgresUrl";

/**
 * Applies the committed SQL migrations (authored with `prisma migrate diff`, see
 * docs/DEVELOPING.md) at start-up, so that a fresh clone needs no Prisma CLI and a production
 * image carries no dev dependency. Each migration runs in one transaction and is recorded in
 * `_layermerge_migrations`; on PostgreSQL an advisory lock lets an API and its workers start at
 * the same time.
 */
export const MIGRATIONS_ROOT = path.resolve(__dirname, "..", "..", "prisma", "migrations");

export interface AppliedMigrations {
  applied: string[];
  total: number;
}

function migrationsFor(provider: "sqlite" | "postgres"): Array<{ name: string; sql: string }> {
  const folder = path.join(MIGRATIONS_ROOT, provider);
  return fs
    .readdirSync(folder, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()
    .map((name) => ({ name, sql: fs.readFileSync(path.join(folder, name, "migration.sql"), "utf8") }));
}

export async function migrate(databaseUrl: string): Promise<AppliedMigrations> {
  return databaseUrl.startsWith("file:") ? migrateSqlite(databaseUrl) : migratePostgres(databaseUrl);
}

export function sqliteFilePath(databaseUrl: string): string {
  const file = databaseUrl.replace(/^file:/, "").replace(/\?.*$/, "");
  return path.resolve(file);
}

function migrateSqlite(databaseUrl: string): AppliedMigrations {
  const file = sqliteFilePath(databaseUrl);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file, { timeout: 10_000 });
  try {
    // WAL lets the API read while a pool thread writes; the setting persists in the file.
    db.pragma("journal_mode = WAL");
    db.exec(`CREATE TABLE IF NOT EXISTS "_layermerge_migrations" ("name" TEXT PRIMARY KEY, "appliedAt" TEXT NOT NULL)`);
    const done = new Set(db.prepare(`SELECT "name" FROM "_layermerge_migrations"`).pluck().all() as string[]);
    const all = migrationsFor("sqlite");
    const applied: string[] = [];
    for (const m of all) {
      if (done.has(m.name)) continue;
      db.transaction(() => {
        db.exec(m.sql);
        db.prepare(`INSERT INTO "_layermerge_migrations" ("name", "appliedAt") VALUES (?, ?)`).run(m.name, new Date().toISOString());
      }).immediate();
      applied.push(m.name);
    }
    return { applied, total: all.length };
  } finally {
    db.close();
  }
}

async function migratePostgres(databaseUrl: string): Promise<AppliedMigrations> {
  const { connectionString, schema } = parsePostgresUrl(databaseUrl);
  const client = new Client({ connectionString });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await client.query(`SET search_path TO ${quoteIdent(schema)}`);
    // One lock per schema: concurrent starters wait, then find the work done.
    await client.query(`SELECT pg_advisory_lock(hashtext($1))`, [`layermerge-migrate:${schema}`]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS "_layermerge_migrations" ("name" TEXT PRIMARY KEY, "appliedAt" TIMESTAMPTZ NOT NULL)`);
      const { rows } = await client.query<{ name: string }>(`SELECT "name" FROM "_layermerge_migrations"`);
      const done = new Set(rows.map((r) => r.name));
      const all = migrationsFor("postgres");
      const applied: string[] = [];
      for (const m of all) {
        if (done.has(m.name)) continue;
        await client.query("BEGIN");
        try {
          await client.query(m.sql);
          await client.query(`INSERT INTO "_layermerge_migrations" ("name", "appliedAt") VALUES ($1, now())`, [m.name]);
          await client.query("COMMIT");
        } catch (error) {
          await client.query("ROLLBACK");
          throw new Error(`migration ${m.name} failed: ${(error as Error).message}`);
        }
        applied.push(m.name);
      }
      return { applied, total: all.length };
    } finally {
      await client.query(`SELECT pg_advisory_unlock(hashtext($1))`, [`layermerge-migrate:${schema}`]);
    }
  } finally {
    await client.end();
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
