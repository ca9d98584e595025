import type { Db } from "../persistence/database";
import { DomainError } from "../core/errors";
import { isDatabaseUnreachable } from "../persistence/databaseErrors";
import type { Logger } from "../logging";
import type { JobEvents } from "./jobEvents";
import { runDiscard, runHandler, type JobHandlers, type JobKind, type JobProgress, type JobStatus } from "./jobTypes";

const PERSIST_EVERY_MS = 500;

export type JobEnd = "SUCCEEDED" | "FAILED" | "CANCELLED" | "RETRY" | "INTERRUPTED" | "SKIPPED";

export interface ExecuteOptions {
  worker: string;
  /** Aborted on shutdown (the job is left for the next start) or on cancel. */
  signal: AbortSignal;
  /** Whether a transient failure may be retried (attempts left), or a test of the attempt that just ran; if not, it fails. */
  mayRetry: boolean | ((attempt: number) => boolean);
  /** True when `signal` was aborted because the process is stopping. */
  isShuttingDown(): boolean;
  /** Told how long each run took and how it ended (metrics). */
  observe?(kind: string, end: JobEnd, seconds: number): void;
}

/**
 * Runs one job row with its handler — shared by the embedded runner and the BullMQ worker, so
 * both shapes record status, attempts, progress and errors the same way. The database row is
 * the source of truth; callers decide what a RETRY means for their queue.
 */
export async function executeJob(db: Db, handlers: JobHandlers, events: JobEvents, logger: Logger, jobId: string, options: ExecuteOptions): Promise<JobEnd> {
  const started = Date.now();
  let kind = "UNKNOWN";
  const end = await executeJobOnce(db, handlers, events, logger, jobId, options, (k) => (kind = k));
  if (end !== "SKIPPED") options.observe?.(kind, end, (Date.now() - started) / 1000);
  return end;
}

async function executeJobOnce(db: Db, handlers: JobHandlers, events: JobEvents, logger: Logger, jobId: string, options: ExecuteOptions, setKind: (kind: string) => void): Promise<JobEnd> {
  const job = await db.job.findUnique({ where: { id: jobId } });
  if (!job) {
    logger.warn({ jobId }, "job row is gone; skipping");
    return "SKIPPED";
  }
  if (["SUCCEEDED", "FAILED", "CANCELLED"].includes(job.status)) return "SKIPPED";
  setKind(job.kind);
  const log = logger.child({ jobId, kind: job.kind, worker: options.worker });
  if (job.cancelRequested) {
    // What its start made goes first: a crash in between leaves a job that is cancelled (and
    // discarded, again) when it is next claimed, never a cancelled job with rows behind it.
    await runDiscard(handlers, job.kind as JobKind, job.payload);
    await finish(db, events, jobId, "CANCELLED", { message: "cancelled before it started", progress: job.progress });
    return "CANCELLED";
  }
  const started = await db.job.update({
    where: { id: jobId },
    data: { status: "RUNNING", startedAt: job.startedAt ?? new Date(), worker: options.worker, heartbeatAt: new Date(), attempts: { increment: 1 }, error: null, errorCode: null },
  });
  await publish(db, events, jobId);
  let lastPersist = 0;
  let lastFraction = started.progress;
  const progress = (fraction: number, message?: string) => {
    lastFraction = Math.max(0, Math.min(1, fraction));
    events.publish({ id: jobId, kind: job.kind, status: "RUNNING", progress: lastFraction, message: message ?? null, error: null });
    const now = Date.now();
    if (now - lastPersist >= PERSIST_EVERY_MS) {
      lastPersist = now;
      void db.job.update({ where: { id: jobId }, data: { progress: lastFraction, message: message ?? undefined, heartbeatAt: new Date() } }).catch((error) => {
        // An unreachable database is reported once by the runner (its outage log), not per write.
        if (!isDatabaseUnreachable(error)) log.warn({ reason: (error as Error).message }, "progress write failed");
      });
    }
  };
  const began = Date.now();
  try {
    log.info({ attempt: started.attempts }, "job started");
    const outcome = await runHandler(handlers, job.kind as JobKind, job.payload, { jobId, attempt: started.attempts, signal: options.signal, progress });
    await finish(db, events, jobId, "SUCCEEDED", { progress: 1, message: outcome.message, result: outcome.result as object });
    log.info({ result: outcome.result, ms: Date.now() - began }, outcome.message);
    return "SUCCEEDED";
  } catch (error) {
    if (options.isShuttingDown() && options.signal.aborted) {
      log.warn("job interrupted by shutdown; it runs again later");
      return "INTERRUPTED";
    }
    // The database went away under the job: nothing can be recorded, and it is not the job's
    // fault. The row stays as it is (RUNNING) for the runner to retry or the reconciler to
    // re-queue once its heartbeat is stale.
    if (isDatabaseUnreachable(error)) throw error;
    if (error instanceof DomainError && error.code === "CANCELLED") {
      await finish(db, events, jobId, "CANCELLED", { message: "cancelled", progress: lastFraction });
      log.info("job cancelled");
      return "CANCELLED";
    }
    if (error instanceof DomainError) {
      // Bad input fails the same way every time: no retry.
      await finish(db, events, jobId, "FAILED", { error: error.message, errorCode: error.code, message: "failed", progress: lastFraction });
      log.info({ error: error.message }, "job failed on bad input");
      return "FAILED";
    }
    const message = `internal error: ${(error as Error).message}`;
    if (typeof options.mayRetry === "function" ? options.mayRetry(started.attempts) : options.mayRetry) {
      await db.job.update({ where: { id: jobId }, data: { status: "QUEUED", error: message, errorCode: "INTERNAL", message: `retrying after: ${message}` } });
      await publish(db, events, jobId);
      log.warn({ err: error }, "job failed; it will be retried");
      return "RETRY";
    }
    await finish(db, events, jobId, "FAILED", { error: message, errorCode: "INTERNAL", message: "failed", progress: lastFraction });
    log.error({ err: error }, "job failed");
    return "FAILED";
  }
}

async function finish(db: Db, events: JobEvents, jobId: string, status: JobStatus, data: { progress?: number; message?: string; error?: string; errorCode?: string; result?: object }) {
  await db.job.update({ where: { id: jobId }, data: { status, finishedAt: new Date(), heartbeatAt: new Date(), ...data } });
  await publish(db, events, jobId);
}

export async function publish(db: Db, events: JobEvents, jobId: string): Promise<void> {
  const j = await db.job.findUnique({ where: { id: jobId } });
  if (!j) return;
  const update: JobProgress = { id: j.id, kind: j.kind, status: j.status as JobStatus, progress: j.progress, message: j.message, error: j.error };
  events.publish(update);
}
