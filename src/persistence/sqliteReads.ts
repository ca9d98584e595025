import type BetterSqlite3 from "better-sqlite3";
import type { SqlValue } from "./directSql";

/** Distinct statements kept prepared: the hot reads are a handful of shapes (IN lists vary in length). */
const CACHED_STATEMENTS = 256;

/**
 * Reads on the better-sqlite3 connection Prisma's adapter holds, with its prepared statements
 * kept. Through the adapter a statement is prepared again on every call and every row is
 * converted twice (to the adapter's arrays, then to objects): for a page of 50 models that was
 * three quarters of the read's CPU. better-sqlite3 returns objects keyed by column as SQLite
 * stores them, which for text, numbers and the adapter's ISO-8601 timestamps is what the
 * adapter returns; parameters are bound as the adapter binds them.
 */
export function sqliteReader(client: () => BetterSqlite3.Database) {
  const statements = new Map<string, BetterSqlite3.Statement>();
  return (statement: string, values: readonly SqlValue[]): Array<Record<string, unknown>> | undefined => {
    let prepared = statements.get(statement);
    if (!prepared) {
      prepared = client().prepare(statement);
      if (statements.size >= CACHED_STATEMENTS) statements.delete(statements.keys().next().value!);
      statements.set(statement, prepared);
    }
    // Statements that write (an INSERT … RETURNING too) stay with the adapter.
    if (!prepared.reader || !prepared.readonly) return undefined;
    return prepared.all(...values.map(bind)) as Array<Record<string, unknown>>;
  };
}

/** As the adapter binds values (its default `iso8601` timestamp format, booleans as 0/1). */
function bind(value: SqlValue): unknown {
  if (value instanceof Date) return value.toISOString().replace("Z", "+00:00");
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value instanceof Uint8Array && !Buffer.isBuffer(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return value;
}
