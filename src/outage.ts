import { providerOf, redact } from "./config/config";
import type { Logger } from "./logging";

/** The services a process depends on, as operators know them. */
export type Dependency = "Redis" | "PostgreSQL" | "SQLite";

export function databaseDependency(databaseUrl: string): Dependency {
  return providerOf(databaseUrl) === "postgres" ? "PostgreSQL" : "SQLite";
}

/**
 * A dependency the process cannot use at start-up. Its message is the one line an operator
 * needs: which service, at which address (password masked), and why.
 */
export class UnreachableError extends Error {
  constructor(readonly dependency: Dependency, url: string, reason: string) {
    super(`cannot ${dependency === "SQLite" ? "open" : "reach"} ${dependency} at ${redact(url)}: ${reason}`);
    this.name = "UnreachableError";
  }
}

/**
 * A short reason for an error, without a stack: Prisma's messages start with the invocation
 * site and put the cause on the last line; others are one line already.
 */
export function reasonOf(error: unknown): string {
  const e = error as { message?: unknown; code?: unknown; meta?: { driverAdapterError?: { cause?: { kind?: string; host?: string; port?: number } } } } | null;
  const cause = e?.meta?.driverAdapterError?.cause;
  if (cause?.kind) return [cause.kind, cause.host && cause.port ? `${cause.host}:${cause.port}` : cause.host, typeof e?.code === "string" ? `(${e.code})` : ""].filter(Boolean).join(" ");
  const message = typeof e?.message === "string" ? e.message : String(error);
  const lines = message.split("\n").map((l) => l.trim()).filter(Boolean);
  return (lines[lines.length - 1] ?? message).slice(0, 300);
}

/**
 * Logs an outage of one dependency once: a warning when it first fails, an info line when it
 * works again — however many connections or requests fail in between, and without stack
 * traces (an outage is an operating condition, not a bug).
 *
 * A process may hold several connections to the dependency (Redis: the queue's, the event
 * channel's two), each reconnecting on its own schedule. The outage lasts while any of them is
 * down, so that one connection back before the others does not end it early only for the next
 * one's failure to start another.
 */
export class OutageLog {
  private readonly down = new Set<string>();
  private readonly recovered: Array<() => void> = [];

  constructor(private readonly logger: Logger, readonly dependency: Dependency, private readonly url: string) {}

  get isDown(): boolean {
    return this.down.size > 0;
  }

  /** A request to the dependency failed (it counts as down until a request succeeds). */
  failed(error: unknown, consequence = "retrying until it is back"): void {
    this.connectionFailed("requests", error, consequence);
  }

  /** A request succeeded. */
  ok(): void {
    this.connectionReady("requests");
  }

  /** One named connection cannot reach the dependency. */
  connectionFailed(connection: string, error: unknown, consequence = "retrying until it is back"): void {
    const wasUp = this.down.size === 0;
    this.down.add(connection);
    if (!wasUp) return;
    const reason = reasonOf(error);
    this.logger.warn({ dependency: this.dependency, url: redact(this.url), reason }, `${this.dependency} at ${redact(this.url)} is unreachable (${reason}); ${consequence}`);
  }

  /** One named connection works (again). */
  connectionReady(connection: string): void {
    if (!this.down.delete(connection) || this.down.size > 0) return;
    this.logger.info({ dependency: this.dependency, url: redact(this.url) }, `${this.dependency} at ${redact(this.url)} is reachable again`);
    for (const listener of this.recovered) listener();
  }

  /** Called each time the dependency comes back after an outage. */
  onRecovery(listener: () => void): void {
    this.recovered.push(listener);
  }
}
