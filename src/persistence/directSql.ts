import type { Provider } from "./database";

/**
 * Plain SQL sent straight to the driver adapter that Prisma itself uses — its pg pool, or its
 * better-sqlite3 connection and that connection's transaction lock — without Prisma's query
 * engine. For a hot path of simple statements whose rows the caller already knows: a
 * known-structure registration's Artifact and Model INSERTs cost ~3.6 ms through a Prisma batch
 * transaction on PostgreSQL and ~1.3 ms sent directly (bench:candidates, issue 3).
 *
 * Statements are written with the `sql` tag, so values are always parameters. Rows come back as
 * the adapter returns them: read text columns only (other types differ between providers).
 */
export type SqlValue = string | number | bigint | boolean | Date | null;

export interface SqlText {
  readonly strings: readonly string[];
  readonly values: readonly SqlValue[];
}

/** `sql\`SELECT "id" FROM "Model" WHERE "name" = ${name}\`` */
export function sql(strings: TemplateStringsArray, ...values: SqlValue[]): SqlText {
  return { strings, values };
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

export function directSql(provider: Provider, connection: () => AdapterConnection): DirectSql {
  const queries = (q: () => AdapterQueryable): DirectQueries => ({
    async query(text) {
      const { columnNames, rows } = await q().queryRaw(render(provider, text));
      return rows.map((row) => Object.fromEntries(columnNames.map((name, i) => [name, row[i]])));
    },
    execute: (text) => q().executeRaw(render(provider, text)),
  });
  return {
    ...queries(connection),
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

/** The adapter's query: `?` or `$n` placeholders, and each value's type as the adapters read it. */
function render(provider: Provider, text: SqlText): AdapterQuery {
  let statement = text.strings[0]!;
  for (let i = 1; i < text.strings.length; i++) statement += (provider === "postgres" ? `$${i}` : "?") + text.strings[i];
  const args: unknown[] = [];
  const argTypes: AdapterQuery["argTypes"] = [];
  for (const value of text.values) {
    // Both adapters turn a Date into their timestamp text, and a bigint given as text with the
    // "bigint" type into the driver's integer.
    const scalarType = value instanceof Date ? "datetime" : typeof value === "bigint" ? "bigint" : typeof value === "number" ? (Number.isInteger(value) ? "int" : "float") : typeof value === "boolean" ? "boolean" : "string";
    args.push(typeof value === "bigint" ? value.toString() : value);
    argTypes.push({ scalarType, arity: "scalar" });
  }
  return { sql: statement, args, argTypes };
}
