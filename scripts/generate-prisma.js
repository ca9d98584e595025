#!/usr/bin/env node
// Writes the PostgreSQL schema from the SQLite one (provider and client output differ, nothing
// else), then generates both clients. Prisma fixes the provider per schema file; keeping one
// hand-edited source avoids the two drifting apart.
const fs = require("node:fs");
const path = require("node:path");
const { execFileSync } = require("node:child_process");

const root = path.resolve(__dirname, "..");
const sqliteSchema = path.join(root, "prisma", "schema.prisma");
const pgSchema = path.join(root, "prisma", "postgres", "schema.prisma");

/**
 * The PostgreSQL twin of a schema: the provider, the client's output, and the attributes written
 * as `// postgres: @db.…` comments (native types SQLite does not have) made real.
 */
function postgresSchema(source) {
  const pg = source
    .replace('provider = "sqlite"', 'provider = "postgresql"')
    .replace('output              = "../src/persistence/generated/sqlite"', 'output              = "../../src/persistence/generated/postgres"')
    .replace(/^\/\/ The one schema[\s\S]*?\n\n/m, "// GENERATED from ../schema.prisma by scripts/generate-prisma.js — do not edit.\n\n")
    .replace(/ \/\/ postgres: (@db\.\w+)$/gm, " $1");
  if (pg === source || !pg.includes('"postgresql"')) {
    throw new Error("generate-prisma: could not derive the PostgreSQL schema; did the generator block change?");
  }
  return pg;
}

// `--print-postgres FILE`: the twin of FILE (a migration snapshot) on stdout, for `migrate diff`.
if (process.argv[2] === "--print-postgres") {
  process.stdout.write(postgresSchema(fs.readFileSync(process.argv[3], "utf8")));
  process.exit(0);
}

const source = fs.readFileSync(sqliteSchema, "utf8");
const pg = postgresSchema(source);
if (!pg.includes("generated/postgres")) {
  throw new Error("generate-prisma: could not derive the PostgreSQL schema; did the generator block change?");
}
fs.mkdirSync(path.dirname(pgSchema), { recursive: true });
fs.writeFileSync(pgSchema, pg);

const prismaBin = require.resolve("prisma/build/index.js");
// The CLI falls back to downloading a native engine when DATABASE_URL is not valid for the
// provider; generation needs no database, so give it a syntactically valid one.
for (const [target, url] of [["sqlite", "file:./unused.db"], ["postgres", "postgresql://unused@127.0.0.1:5432/unused"]]) {
  execFileSync(process.execPath, [prismaBin, "generate"], {
    cwd: root,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, PRISMA_TARGET: target, DATABASE_URL: url, PRISMA_HIDE_UPDATE_MESSAGE: "1", CHECKPOINT_DISABLE: "1" },
  });
}
