import { randomUUID } from "node:crypto";
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
  /**
   * Runs `use` with a stand-in for a large text parameter of raw statements (`$executeRaw`): the
   * query compiler sees the short stand-in, the driver receives `value`. Prisma's client engine
   * passes every parameter through its WASM query compiler as JSON, in and out: a 60 KB artifact
   * layout cost ~2 ms of CPU and ~1 MB of garbage there, per registration (bench:candidates).
   */
  withLargeParameter<T>(value: string, use: (parameter: string) => Promise<T>): Promise<T>;
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
  const large = new Map<string, string>();
  const hooks: AdapterHooks = {
    onQuery() {
      queries += 1;
    },
    resolve(arg) {
      return isStandIn(arg) ? large.get(arg) ?? arg : arg;
    },
  };
  let prisma: Db;
  let pool: Pool | undefined;
  if (provider === "sqlite") {
    const adapter = instrument(new PrismaBetterSQLite3({ url: sqliteFilePath(databaseUrl), timeout: 10_000 }), hooks);
    prisma = new SqliteClient({ adapter });
  } else {
    const { connectionString, schema } = parsePostgresUrl(databaseUrl);
    pool = new Pool({ connectionString, options: `-c search_path="${schema}"`, max: 10 });
    const adapter = instrument(new PrismaPg(pool, { schema }), hooks);
    prisma = new PostgresClient({ adapter }) as unknown as Db;
  }
  await prisma.$connect();
  return {
    prisma,
    provider,
    queryCount: () => queries,
    async withLargeParameter(value, use) {
      const parameter = `${LARGE_PARAMETER_PREFIX}${randomUUID()}`;
      large.set(parameter, value);
      try {
        return await use(parameter);
      } finally {
        large.delete(parameter);
      }
    },
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

/** A NUL never occurs in stored text (PostgreSQL refuses it), so no real parameter starts so. */
const LARGE_PARAMETER_PREFIX = "\u0000layermerge-large-parameter:";

function isStandIn(arg: unknown): arg is string {
  return typeof arg === "string" && arg.startsWith(LARGE_PARAMETER_PREFIX);
}

interface AdapterHooks {
  onQuery(): void;
  /** The value the driver receives for a parameter (see withLargeParameter). */
  resolve(arg: unknown): unknown;
}

type SqlQuery = { args: unknown[] };

/** Wraps a driver adapter: every statement it sends is counted and its parameters resolved. */
function instrument<T extends object>(factory: T, hooks: AdapterHooks): T {
  const resolveArgs = (query: unknown): unknown => {
    const q = query as SqlQuery;
    return q.args.some(isStandIn) ? { ...q, args: q.args.map(hooks.resolve) } : query;
  };
  const wrap = (q: Queryable): Queryable => {
    const queryRaw = q.queryRaw.bind(q);
    const executeRaw = q.executeRaw.bind(q);
    q.queryRaw = (query) => {
      hooks.onQuery();
      return queryRaw(resolveArgs(query));
    };
    q.executeRaw = (query) => {
      hooks.onQuery();
      return executeRaw(resolveArgs(query));
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
