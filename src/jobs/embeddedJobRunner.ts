import { hostname } from "node:os";
import type { Db } from "../persistence/database";
import type { Logger } from "../logging";
import type { JobEvents } from "./jobEvents";
import { JOB_KINDS, JobHandlers } from "./jobTypes";
import { executeJob, publish } from "./executeJob";

export interface JobRunner {
  /** The job row exists (QUEUED); run it when a slot is free. */
  enqueue(jobId: string): Promise<void>;
  /** QUEUED → CANCELLED at once; RUNNING → its handler is aborted and the job ends CANCELLED. */
  cancel(jobId: string): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function checkHandlers(handlers: JobHandlers): void {
  for (const kind of JOB_KINDS) if (typeof handlers[kind] !== "function") throw new Error(`no handler for job kind ${kind}`);
}

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
  private retry?: NodeJS.Timeout;

  constructor(
    private readonly db: Db,
    private readonly handlers: JobHandlers,
    private readonly events: JobEvents,
    private readonly logger: Logger,
    private readonly concurrency = 1,
    private readonly observe?: (kind: string, end: string, seconds: number) => void,
  ) {
    checkHandlers(handlers);
  }

  async start(): Promise<void> {
    this.stopped = false;
    const resumed = await this.db.job.updateMany({ where: { status: "RUNNING" }, data: { status: "QUEUED", message: "resumed after a restart" } });
    if (resumed.count) this.logger.warn({ count: resumed.count }, "re-queued jobs that were running when the process stopped");
    // Jobs arrive through enqueue() in this process, so no polling: pump on enqueue and when a
    // job ends (and again shortly after a failed claim).
    void this.pump();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    // Running jobs stay RUNNING in the database and resume at the next start.
    for (const controller of this.running.values()) controller.abort(new Error("shutting down"));
  }

  async enqueue(_jobId: string): Promise<void> {
    void this.pump();
  }

  async cancel(jobId: string): Promise<void> {
    await this.db.job.updateMany({ where: { id: jobId, status: { in: ["QUEUED", "RUNNING"] } }, data: { cancelRequested: true } });
    const queued = await this.db.job.updateMany({ where: { id: jobId, status: "QUEUED" }, data: { status: "CANCELLED", finishedAt: new Date(), message: "cancelled before it started" } });
    if (queued.count) await publish(this.db, this.events, jobId);
    this.running.get(jobId)?.abort();
  }

  private async pump(): Promise<void> {
    if (this.pumping || this.stopped) return;
    this.pumping = true;
    try {
      while (!this.stopped && this.running.size < this.concurrency) {
        const next = await this.db.job.findFirst({ where: { status: "QUEUED", id: { notIn: [...this.running.keys()] } }, orderBy: [{ createdAt: "asc" }, { id: "asc" }], select: { id: true } });
        if (!next) break;
        void this.run(next.id);
      }
    } catch (error) {
      this.logger.error({ err: error }, "job runner failed to find a job; retrying in 5 s");
      this.retry = setTimeout(() => void this.pump(), 5000);
      this.retry.unref();
    } finally {
      this.pumping = false;
    }
  }

  private async run(jobId: string): Promise<void> {
    const controller = new AbortController();
    this.running.set(jobId, controller);
    try {
      await executeJob(this.db, this.handlers, this.events, this.logger, jobId, {
        worker: this.worker,
        signal: controller.signal,
        mayRetry: false,
        isShuttingDown: () => this.stopped,
        observe: this.observe,
      });
    } catch (error) {
      this.logger.error({ err: error, jobId }, "job bookkeeping failed");
    } finally {
      this.running.delete(jobId);
      void this.pump();
    }
  }
}
