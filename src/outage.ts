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
 */
export class OutageLog {
  private down = false;
  private readonly recovered: Array<() => void> = [];

  constructor(private readonly logger: Logger, readonly dependency: Dependency, private readonly url: string) {}

  get isDown(): boolean {
    return this.down;
  }

  failed(error: unknown, consequence = "retrying until it is back"): void {
    if (this.down) return;
    this.down = true;
    const reason = reasonOf(error);
    this.logger.warn({ dependency: this.dependency, url: redact(this.url), reason }, `${this.dependency} at ${redact(this.url)} is unreachable (${reason}); ${consequence}`);
  }

  ok(): void {
    if (!this.down) return;
    this.down = false;
    this.logger.info({ dependency: this.dependency, url: redact(this.url) }, `${this.dependency} at ${redact(this.url)} is reachable again`);
    for (const listener of this.recovered) listener();
  }

  /** Called each time the dependency comes back after an outage. */
  onRecovery(listener: () => void): void {
    this.recovered.push(listener);
  }
}
