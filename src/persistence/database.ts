import { Pool } from "pg";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient as SqliteClient } from "./generated/sqlite/client";
import { PrismaClient as PostgresClient } from "./generated/postgres/client";
import { migrate, sqliteFilePath } from "./migrate";
import { parsePostgresUrl } from "./postgresUrl";
import { providerOf } from "../config/config";
import { directSql, type AdapterConnection, type DirectReader, type DirectSql } from "./directSql";
import { sqliteReader } from "./sqliteReads";
import { startSqliteCheckpointer, type SqliteCheckpointer } from "./sqliteCheckpointer";

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
   * Plain statements on the connection Prisma uses, past its query engine (see directSql): for
   * hot paths only — everything else goes through `prisma`.
   */
  direct: DirectSql;
  /**
   * A value that changes whenever a transaction commits a change to the database, whoever
   * commits it (this process, its job runner, another process, a person at a SQL prompt): equal
   * values read at two moments mean nothing was committed in between. Null when it cannot be
   * told (SQLite, while this connection is inside a transaction whose writes are not committed).
   *
   * SQLite: `PRAGMA data_version` (changes when another connection commits) with this
   * connection's own `total_changes()`. PostgreSQL: the current snapshot (`pg_current_snapshot()`:
   * xmin, xmax and the transactions in progress) — any transaction that wrote ends either by
   * leaving the in-progress list or by raising xmax, so an unchanged snapshot means no commit; it
   * changes for every database in the cluster, which can only make it change more often.
   */
  dataVersion(): Promise<string | null>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Apply pending migrations first (default true). */
  migrate?: boolean;
}

/** WAL pages (4 KiB) past which an SQLite commit checkpoints by itself (SQLite's default: 1,000). */
export const INLINE_CHECKPOINT_PAGES = 4096;

export async function openDatabase(databaseUrl: string, options: OpenOptions = {}): Promise<Database> {
  const provider = providerOf(databaseUrl);
  if (options.migrate !== false) await migrate(databaseUrl);
  let queries = 0;
  let connection: AdapterConnection | undefined;
  const hooks: AdapterHooks = {
    onQuery() {
      queries += 1;
    },
    onConnect(adapter) {
      connection = adapter;
      if (provider === "sqlite") beginImmediately(adapter);
    },
  };
  let prisma: Db;
  let pool: Pool | undefined;
  let checkpointer: SqliteCheckpointer | undefined;
  let reader: DirectReader | undefined;
  let dataVersion: () => Promise<string | null>;
  if (provider === "sqlite") {
    const file = sqliteFilePath(databaseUrl);
    const adapter = instrument(new PrismaBetterSQLite3({ url: file, timeout: 10_000 }), hooks);
    prisma = new SqliteClient({ adapter });
    // Checkpoints run in a thread of their own (see there); a commit checkpoints inline (on the event
    // loop) only as a backstop, past 16 MB of WAL.
    await prisma.$queryRawUnsafe(`PRAGMA wal_autocheckpoint = ${INLINE_CHECKPOINT_PAGES}`);
    checkpointer = startSqliteCheckpointer(file);
    const client = () => {
      const client = (connection as unknown as { client?: import("better-sqlite3").Database } | undefined)?.client;
      if (!client) throw new Error("the database is not connected");
      return client;
    };
    const read = sqliteReader(client);
    let version: { on: import("better-sqlite3").Database; statement: import("better-sqlite3").Statement } | undefined;
    dataVersion = async () => {
      const on = client();
      if (on.inTransaction) return null;
      if (version?.on !== on) version = { on, statement: on.prepare(`SELECT total_changes() AS "changes", "data_version" AS "version" FROM pragma_data_version`) };
      const row = version.statement.get() as { changes: number; version: number };
      return `${row.version}:${row.changes}`;
    };
    reader = (statement, values) => {
      const rows = read(statement, values);
      if (rows) queries += 1;
      return rows;
    };
  } else {
    const { connectionString, schema } = parsePostgresUrl(databaseUrl);
    pool = new Pool({ connectionString, options: `-c search_path="${schema}"`, max: 10 });
    const adapter = instrument(new PrismaPg(pool, { schema }), hooks);
    prisma = new PostgresClient({ adapter }) as unknown as Db;
    const snapshots = pool;
    dataVersion = async () => (await snapshots.query<{ s: string }>("SELECT pg_current_snapshot()::text AS s")).rows[0]!.s;
  }
  await prisma.$connect();
  return {
    prisma,
    provider,
    queryCount: () => queries,
    direct: directSql(provider, () => {
      if (!connection) throw new Error("the database is not connected");
      return connection;
    }, reader),
    dataVersion,
    async close() {
      await prisma.$disconnect();
      if (pool) await pool.end();
      await checkpointer?.stop();
    },
  };
}

/**
 * SQLite transactions take the write lock when they begin (BEGIN IMMEDIATE, where the adapter says
 * BEGIN). Another process writes the same file (the API and its job-runner child): a deferred
 * transaction that read first and then writes fails at once with SQLITE_BUSY_SNAPSHOT when the
 * other wrote meanwhile (the busy timeout cannot help: its snapshot is stale), while BEGIN
 * IMMEDIATE waits for the other's write to end (busy timeout) and then reads fresh rows. Readers
 * are not held up (WAL).
 */
function beginImmediately(adapter: AdapterConnection): void {
  const client = (adapter as unknown as { client?: { prepare(sql: string): unknown } }).client;
  if (!client) throw new Error("the SQLite adapter has no client to begin transactions on");
  const prepare = client.prepare.bind(client);
  client.prepare = (sql: string) => prepare(sql === "BEGIN" ? "BEGIN IMMEDIATE" : sql);
}

type AdapterFactory = { connect(): Promise<Queryable> };
type Queryable = {
  queryRaw(q: unknown): Promise<unknown>;
  executeRaw(q: unknown): Promise<unknown>;
  startTransaction?(...args: unknown[]): Promise<Queryable>;
};

interface AdapterHooks {
  onQuery(): void;
  /** The adapter Prisma connected (direct statements share it). */
  onConnect(adapter: AdapterConnection): void;
}

/** Wraps a driver adapter: every statement it sends is counted, and the connection kept. */
function instrument<T extends object>(factory: T, hooks: AdapterHooks): T {
  const wrap = (q: Queryable): Queryable => {
    const queryRaw = q.queryRaw.bind(q);
    const executeRaw = q.executeRaw.bind(q);
    q.queryRaw = (query) => {
      hooks.onQuery();
      return queryRaw(query);
    };
    q.executeRaw = (query) => {
      hooks.onQuery();
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
  f.connect = async () => {
    const adapter = wrap(await connect());
    hooks.onConnect(adapter as unknown as AdapterConnection);
    return adapter;
  };
  return factory;
}
