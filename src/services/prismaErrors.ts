/**
 * Constraint violations that map to caller mistakes, as Prisma's query engine reports them
 * (known-request error codes) and as its driver adapters do for statements sent directly
 * (persistence/directSql: a `DriverAdapterError` whose cause has a `kind`).
 */
export function isUniqueViolation(error: unknown): boolean {
  return errorCode(error) === "P2002" || adapterErrorKind(error) === "UniqueConstraintViolation";
}

export function isForeignKeyViolation(error: unknown): boolean {
  return errorCode(error) === "P2003" || adapterErrorKind(error) === "ForeignKeyConstraintViolation";
}

function errorCode(error: unknown): unknown {
  return typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
}

function adapterErrorKind(error: unknown): unknown {
  if (typeof error !== "object" || error === null || (error as { name?: unknown }).name !== "DriverAdapterError") return undefined;
  const cause = (error as { cause?: unknown }).cause;
  return typeof cause === "object" && cause !== null ? (cause as { kind?: unknown }).kind : undefined;
}
