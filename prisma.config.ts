// Prisma CLI configuration. Prisma 6.19 with the JavaScript schema engine: the native engines
// would be fetched at run time from a host these machines cannot reach, and `prisma migrate` fails.
// PRISMA_TARGET=postgres selects the generated PostgreSQL twin of the schema.
import path from "node:path";
import { defineConfig } from "prisma/config";

const target = process.env.PRISMA_TARGET === "postgres" ? "postgres" : "sqlite";
const url = process.env.DATABASE_URL ?? (target === "postgres" ? "postgresql://postgres@127.0.0.1:5432/postgres" : "file:./data/prisma-cli.db");

// The WASM engine leaves a long timer behind that keeps the CLI alive for ~10 s after success.
const setTimeoutOriginal = global.setTimeout;
global.setTimeout = ((fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
  const timer = setTimeoutOriginal(fn, ms, ...args);
  if ((ms ?? 0) > 1000) timer.unref();
  return timer;
}) as typeof setTimeout;

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: target === "postgres" ? path.join("prisma", "postgres", "schema.prisma") : path.join("prisma", "schema.prisma"),
  async adapter() {
    if (target === "postgres") {
      const { PrismaPg } = await import("@prisma/adapter-pg");
      return new PrismaPg({ connectionString: url });
    }
    const { PrismaBetterSQLite3 } = await import("@prisma/adapter-better-sqlite3");
    return new PrismaBetterSQLite3({ url: url.replace(/^file:/, "") });
  },
});
