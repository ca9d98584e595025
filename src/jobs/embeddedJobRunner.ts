import { hostname } from "node:os";
import type { Db } from "../persistence/database";
import { DomainError } from "../core/errors";
import type { Logger } from "../logging";
import type { JobEvents } from "./jobEvents";
import { JOB_KINDS, JobHandlers, JobKind, JobProgress, JobStatus } from "./jobTypes";

export interface JobRunner {
  /** The job row exists (QUEUED); run it when a slot is free. */
  enqueue(jobId: string): Promise<void>;
  /** QUEUED → CANCELLED at once; RUNNING → its handler is aborted and the job ends CANCELLED. */
  cancel(jobId: string): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const PERSIST_EVERY_MS = 500;

/**
 * The embedded runner: jobs are rows in the database, run `concurrency` at a time in this
 * process (the heavy part of each runs on the worker-thread pool). A job that was RUNNING when
 * the process died is queued again at the next start.
 */
export class EmbeddedJobRunner implements JobRunner {
  private readonly running = new Map<string, AbortController>();
  private readonly worker = `${hostname()}:${process.pid}`;
  private stopped = true;
  private pumping = false;
  private poll?: NodeJS.Timeout;

  constructor(
    private readonly db: Db,
    private readonly handlers: JobHandlers,
    private readonly events: JobEvents,
    private readonly logger: Logger,
    private readonly concurrency = 1,
  ) {
    for (const kind of JOB_KINDS) if (typeof handlers[kind] !== "function") throw new Error(`no handler for job kind ${kind}`);
  }

  async start(): Promise<void> {
    this.stopped = false;
    const resumed = await this.db.job.updateMany({
      where: { status: "RUNNING" },
      data: { status: "QUEUED", message: "resumed after a restart" },
    });
    if (resumed.count) this.logger.warn({ count: resumed.count }, "re-queued jobs that were running when the process stopped");
    // Jobs arrive through enqueue() in this process, so no polling: pump on enqueue and when a
    // job ends (and again shortly after a failed claim).
    void this.pump();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poll) clearTimeout(this.poll);
    // Running jobs stay RUNNING in the database and resume at the next start.
    for (const controller of this.running.values()) controller.abort(new Error("shutting down"));
  }

  async enqueue(_jobId: string): Promise<void> {
    void this.pump();
  }

  async cancel(jobId: string): Promise<void> {
    await this.db.job.updateMany({ where: { id: jobId, status: { in: ["QUEUED", "RUNNING"] } }, data: { cancelRequested: true } });
    const queued = await this.db.job.updateMany({
      where: { id: jobId, status: "QUEUED" },
      data: { status: "CANCELLED", finishedAt: new Date(), message: "cancelled before it started" },
    });
    if (queued.count) await this.publish(jobId);
    this.running.get(jobId)?.abort();
  }

  private async pump(): Promise<void> {
    if (this.pumping || this.stopped) return;
    this.pumping = true;
    try {
      while (!this.stopped && this.running.size < this.concurrency) {
        const next = await this.db.job.findFirst({ where: { status: "QUEUED" }, orderBy: [{ createdAt: "asc" }, { id: "asc" }], select: { id: true } });
        if (!next) break;
        // Claim it: only one runner wins the QUEUED → RUNNING update.
        const claimed = await this.db.job.updateMany({
          where: { id: next.id, status: "QUEUED" },
          data: { status: "RUNNING", startedAt: new Date(), worker: this.worker, heartbeatAt: new Date(), attempts: { increment: 1 } },
        });
        if (!claimed.count) continue;
        void this.run(next.id);
      }
    } catch (error) {
      this.logger.error({ err: error }, "job runner failed to claim a job; retrying in 5 s");
      this.poll = setTimeout(() => void this.pump(), 5000);
      this.poll.unref();
    } finally {
      this.pumping = false;
    }
  }

  private async run(jobId: string): Promise<void> {
    const controller = new AbortController();
    this.running.set(jobId, controller);
    const job = await this.db.job.findUniqueOrThrow({ where: { id: jobId } });
    const log = this.logger.child({ jobId, kind: job.kind });
    let lastPersist = 0;
    let lastFraction = job.progress;
    const progress = (fraction: number, message?: string) => {
      lastFraction = Math.max(0, Math.min(1, fraction));
      this.events.publish({ id: jobId, kind: job.kind, status: "RUNNING", progress: lastFraction, message: message ?? null, error: null });
      const now = Date.now();
      if (now - lastPersist >= PERSIST_EVERY_MS) {
        lastPersist = now;
        void this.db.job.update({ where: { id: jobId }, data: { progress: lastFraction, message: message ?? undefined, heartbeatAt: new Date() } }).catch((error) => log.warn({ err: error }, "progress write failed"));
      }
    };
    await this.publish(jobId);
    try {
      if (job.cancelRequested) throw new DomainError("CANCELLED", "cancelled");
      log.info("job started");
      const outcome = await this.handlers[job.kind as JobKind](job.payload, { jobId, attempt: job.attempts, signal: controller.signal, progress });
      await this.finish(jobId, "SUCCEEDED", { progress: 1, message: outcome.message, result: outcome.result as object });
      log.info({ result: outcome.result }, outcome.message);
    } catch (error) {
      if (this.stopped && controller.signal.aborted) {
        log.warn("job interrupted by shutdown; it resumes at the next start");
      } else if (error instanceof DomainError && error.code === "CANCELLED") {
        await this.finish(jobId, "CANCELLED", { message: "cancelled", progress: lastFraction });
        log.info("job cancelled");
      } else {
        const domain = error instanceof DomainError;
        await this.finish(jobId, "FAILED", {
          error: domain ? error.message : `internal error: ${(error as Error).message}`,
          errorCode: domain ? error.code : "INTERNAL",
          message: "failed",
          progress: lastFraction,
        });
        if (domain) log.info({ error: (error as Error).message }, "job failed on bad input");
        else log.error({ err: error }, "job failed");
      }
    } finally {
      this.running.delete(jobId);
      void this.pump();
    }
  }

  private async finish(jobId: string, status: JobStatus, data: { progress?: number; message?: string; error?: string; errorCode?: string; result?: object }): Promise<void> {
    await this.db.job.update({ where: { id: jobId }, data: { status, finishedAt: new Date(), heartbeatAt: new Date(), ...data } });
    await this.publish(jobId);
  }

  private async publish(jobId: string): Promise<void> {
    const j = await this.db.job.findUnique({ where: { id: jobId } });
    if (!j) return;
    const update: JobProgress = { id: j.id, kind: j.kind, status: j.status as JobStatus, progress: j.progress, message: j.message, error: j.error };
    this.events.publish(update);
  }
}
