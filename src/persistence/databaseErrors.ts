/**
 * Errors that mean "the database cannot be reached" (as opposed to a bad statement or a
 * constraint): Prisma's connection error codes, its driver adapters' connection kinds, and the
 * socket errors of the `pg` driver used directly (migrations). Callers answer these with "try
 * again later" instead of failing the request or the job for good.
 */
const PRISMA_CODES = new Set([
  "P1001", // can't reach the database server
  "P1002", // the server was reached but timed out
  "P1008", // operations timed out
  "P1017", // the server closed the connection
  "P2024", // timed out fetching a connection from the pool
]);
const ADAPTER_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections", "TlsConnectionError"]);
const SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "EPIPE"]);
// PostgreSQL's own codes for a server going away: admin/crash shutdown, cannot connect now.
const POSTGRES_CODES = new Set(["57P01", "57P02", "57P03"]);

export function isDatabaseUnreachable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; typeof e === "object" && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { name, code, meta, kind, message } = e as { name?: unknown; code?: unknown; meta?: { driverAdapterError?: { cause?: { kind?: unknown; originalCode?: unknown } } }; kind?: unknown; message?: unknown };
    if (name === "PrismaClientInitializationError") return true;
    if (typeof code === "string" && (PRISMA_CODES.has(code) || SOCKET_CODES.has(code) || POSTGRES_CODES.has(code))) return true;
    const adapterCause = meta?.driverAdapterError?.cause;
    if (adapterCause && (ADAPTER_KINDS.has(adapterCause.kind as string) || POSTGRES_CODES.has(adapterCause.originalCode as string))) return true;
    if (typeof kind === "string" && ADAPTER_KINDS.has(kind)) return true;
    // pg reports a connection that died under a query with this message and no code.
    if (typeof message === "string" && /^Connection terminated( unexpectedly)?$/.test(message)) return true;
  }
  return false;
}
