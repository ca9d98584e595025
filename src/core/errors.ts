/**
 * Errors with stable codes. Core and services throw these; one place (graphql/errors) maps them
 * to GraphQL `extensions.code`, and the HTTP layer to status codes.
 *
 * Caller mistakes (bad input, unknown ids, conflicts, permissions) are `DomainError`s.
 * Broken internal invariants are `InvariantError`s: a bug, masked for clients and logged in full.
 */
export type DomainErrorCode =
  | "BAD_USER_INPUT"
  | "NOT_FOUND"
  | "CONFLICT"
  | "FORBIDDEN"
  | "UNAUTHENTICATED"
  | "PAYLOAD_TOO_LARGE"
  | "CANCELLED"
  /** A dependency the request needs (the database) is down; retry later (HTTP 503). */
  | "SERVICE_UNAVAILABLE";

export class DomainError extends Error {
  readonly code: DomainErrorCode;
  /** The input field at fault, as a dotted path (`input.classes.2.name`), when there is one. */
  readonly field?: string;
  readonly details?: Record<string, unknown>;

  constructor(code: DomainErrorCode, message: string, options: { field?: string; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = "DomainError";
    this.code = code;
    this.field = options.field;
    this.details = options.details;
  }
}

export function badInput(message: string, field?: string, details?: Record<string, unknown>): DomainError {
  return new DomainError("BAD_USER_INPUT", message, { field, details });
}

export function notFound(what: string, id: string | number, field?: string): DomainError {
  return new DomainError("NOT_FOUND", `${what} ${JSON.stringify(String(id))} does not exist`, { field, details: { id: String(id) } });
}

export function conflict(message: string, field?: string): DomainError {
  return new DomainError("CONFLICT", message, { field });
}

export class InvariantError extends Error {
  constructor(message: string) {
    super(`invariant violated: ${message}`);
    this.name = "InvariantError";
  }
}

export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}
