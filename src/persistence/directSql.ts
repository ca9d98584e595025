import type { Provider } from "./database";

/**
 * Plain SQL sent straight to the driver adapter that Prisma itself uses — its pg pool, or its
 * better-sqlite3 connection and that connection's transaction lock — without Prisma's query
 * engine. For a hot path of simple statements whose rows the caller already knows: a
 * known-structure registration's Artifact and Model INSERTs cost ~3.6 ms through a Prisma batch
 * transaction on PostgreSQL and ~1.3 ms sent directly (bench:candidates).
 *
 * Statements are written with the `sql` tag, so values are always parameters. Rows come back as
 * the adapter returns them: read text columns only (other types differ between providers).
 */
export type SqlValue = string | number | bigint | boolean | Date | Uint8Array | null;

export interface SqlText {
  readonly strings: readonly string[];
  readonly values: readonly SqlValue[];
}

/**
 * `sql\`SELECT "id" FROM "Model" WHERE "name" = ${name}\``; a value may itself be a statement
 * fragment (another `sql`, or `joinSql` of several), whose values stay parameters.
 */
export function sql(strings: TemplateStringsArray, ...values: Array<SqlValue | SqlText>): SqlText {
  const out = { strings: [strings[0]!], values: [] as SqlValue[] };
  values.forEach((value, i) => {
    append(out, isFragment(value) ? value : { strings: ["", ""], values: [value] });
    out.strings[out.strings.length - 1] += strings[i + 1]!;
  });
  return out;
}

/** Fragments one after another, `separator` between them: `VALUES ${joinSql(rows, ", ")}`. */
export function joinSql(parts: readonly SqlText[], separator: string): SqlText {
  const out = { strings: [""], values: [] as SqlValue[] };
  parts.forEach((part, i) => {
    if (i > 0) out.strings[out.strings.length - 1] += separator;
    append(out, part);
  });
  return out;
}

function append(out: { strings: string[]; values: SqlValue[] }, part: SqlText): void {
  out.strings[out.strings.length - 1] += part.strings[0]!;
  part.values.forEach((value, k) => {
    out.values.push(value);
    out.strings.push(part.strings[k + 1]!);
  });
}

function isFragment(value: SqlValue | SqlText): value is SqlText {
  return typeof value === "object" && value !== null && !(value instanceof Date) && !(value instanceof Uint8Array);
}

export interface DirectQueries {
  /** Rows as objects keyed by column name. */
  query(text: SqlText): Promise<Array<Record<string, unknown>>>;
  /** The number of rows written. */
  execute(text: SqlText): Promise<number>;
}

export interface DirectSql extends DirectQueries {
  /**
   * Runs `use` in a transaction (the adapter's own BEGIN; COMMIT when `use` resolves, ROLLBACK
   * when it throws). Driver errors keep the adapter's shape (`DriverAdapterError`, whose `cause`
   * has a `kind` such as "UniqueConstraintViolation"; see services/prismaErrors).
   */
  transaction<T>(use: (tx: DirectQueries) => Promise<T>): Promise<T>;
}

/** The part of a Prisma SQL driver adapter (and of its transactions) used here. */
export interface AdapterQueryable {
  queryRaw(query: AdapterQuery): Promise<{ columnNames: string[]; rows: unknown[][] }>;
  executeRaw(query: AdapterQuery): Promise<number>;
}
export interface AdapterConnection extends AdapterQueryable {
  startTransaction(): Promise<AdapterQueryable & { commit(): Promise<void>; rollback(): Promise<void> }>;
}
interface AdapterQuery {
  sql: string;
  args: unknown[];
  argTypes: Array<{ scalarType: string; arity: "scalar" }>;
}

/**
 * Runs a read-only statement outside any transaction itself, rows as objects (see sqliteReads);
 * undefined for a statement it does not run, which then goes to the adapter.
 */
export type DirectReader = (statement: string, values: readonly SqlValue[]) => Array<Record<string, unknown>> | undefined;

export function directSql(provider: Provider, connection: () => AdapterConnection, reader?: DirectReader): DirectSql {
  const queries = (q: () => AdapterQueryable, read?: DirectReader): DirectQueries => ({
    async query(text) {
      const direct = read?.(statementText(provider, text), text.values);
      if (direct) return direct;
      const { columnNames, rows } = await q().queryRaw(render(provider, text));
      return rows.map((row) => Object.fromEntries(columnNames.map((name, i) => [name, row[i]])));
    },
    execute: (text) => q().executeRaw(render(provider, text)),
  });
  return {
    ...queries(connection, reader),
    async transaction(use) {
      const tx = await connection().startTransaction();
      let result;
      try {
        result = await use(queries(() => tx));
        await tx.executeRaw(render(provider, sql`COMMIT`));
      } catch (error) {
        await tx.executeRaw(render(provider, sql`ROLLBACK`)).catch(() => undefined);
        await tx.rollback();
        throw error;
      }
      await tx.commit();
      return result;
    },
  };
}

/** The statement with the provider's placeholders (`?` or `$n`), e.g. for Prisma's `$queryRawUnsafe`. */
export function statementText(provider: Provider, text: SqlText): string {
  let statement = text.strings[0]!;
  for (let i = 1; i < text.strings.length; i++) statement += (provider === "postgres" ? `$${i}` : "?") + text.strings[i];
  return statement;
}

/** The adapter's query: the statement, and each value's type as the adapters read it. */
function render(provider: Provider, text: SqlText): AdapterQuery {
  const statement = statementText(provider, text);
  const args: unknown[] = [];
  const argTypes: AdapterQuery["argTypes"] = [];
  for (const value of text.values) {
    // Both adapters turn a Date into their timestamp text, a bigint given as text with the
    // "bigint" type into the driver's integer, and base64 text with the "bytes" type into a blob.
    const scalarType = value instanceof Date ? "datetime" : value instanceof Uint8Array ? "bytes" : typeof value === "bigint" ? "bigint" : typeof value === "number" ? (Number.isInteger(value) ? "int" : "float") : typeof value === "boolean" ? "boolean" : "string";
    args.push(typeof value === "bigint" ? value.toString() : value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") : value);
    argTypes.push({ scalarType, arity: "scalar" });
  }
  return { sql: statement, args, argTypes };
}
