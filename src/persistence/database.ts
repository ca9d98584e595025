import { Pool } from "pg";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient as SqliteClient } from "./generated/sqlite/client";
import { PrismaClient as PostgresClient } from "./generated/postgres/client";
import { migrate, sqliteFilePath } from "./migrate";
import { parsePostgresUrl } from "./postgresUrl";
import { providerOf } from "../config/config";

/**
 * Both generated clients have the same model API (one schema, two providers); the SQLite
 * client's type stands for both.
 */
export type Db = SqliteClient;
export type Provider = "sqlite" | "postgres";

export interface Database {
  prisma: Db;
  provider: Provider;
  /** Number of SQL statements sent so far (for the N+1 test and /metrics). */
  queryCount(): number;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Apply pending migrations first (default true). */
  migrate?: boolean;
}

export async function openDatabase(databaseUrl: string, options: OpenOptions = {}): Promise<Database> {
  const provider = providerOf(databaseUrl);
  if (options.migrate !== false) await migrate(databaseUrl);
  let queries = 0;
  const onQuery = () => {
    queries += 1;
  };
  let prisma: Db;
  let pool: Pool | undefined;
  if (provider === "sqlite") {
    const adapter = countQueries(new PrismaBetterSQLite3({ url: sqliteFilePath(databaseUrl), timeout: 10_000 }), onQuery);
    prisma = new SqliteClient({ adapter });
  } else {
    const { connectionString, schema } = parsePostgresUrl(databaseUrl);
    pool = new Pool({ connectionString, options: `-c search_path="${schema}"`, max: 10 });
    const adapter = countQueries(new PrismaPg(pool, { schema }), onQuery);
    prisma = new PostgresClient({ adapter }) as unknown as Db;
  }
  await prisma.$connect();
  return {
    prisma,
    provider,
    queryCount: () => queries,
    async close() {
      await prisma.$disconnect();
      if (pool) await pool.end();
    },
  };
}

type AdapterFactory = { connect(): Promise<Queryable> };
type Queryable = {
  queryRaw(q: unknown): Promise<unknown>;
  executeRaw(q: unknown): Promise<unknown>;
  startTransaction?(...args: unknown[]): Promise<Queryable>;
};

/** Wraps a driver adapter so that every statement it sends is counted. */
function countQueries<T extends object>(factory: T, onQuery: () => void): T {
  const wrap = (q: Queryable): Queryable => {
    const queryRaw = q.queryRaw.bind(q);
    const executeRaw = q.executeRaw.bind(q);
    q.queryRaw = (query) => {
      onQuery();
      return queryRaw(query);
    };
    q.executeRaw = (query) => {
      onQuery();
      return executeRaw(query);
    };
    if (q.startTransaction) {
      const start = q.startTransaction.bind(q);
      q.startTransaction = async (...args) => wrap(await start(...args));
    }
    return q;
  };
  const f = factory as unknown as AdapterFactory;
  const connect = f.connect.bind(f);
  f.connect = async () => wrap(await connect());
  return factory;
}
