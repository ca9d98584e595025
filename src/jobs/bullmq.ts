import { hostname } from "node:os";
import { Queue, Worker, UnrecoverableError, type ConnectionOptions, type Job as BullJob } from "bullmq";
import type { Db } from "../persistence/database";
import type { Logger } from "../logging";
import type { JobEvents } from "./jobEvents";
import type { JobHandlers } from "./jobTypes";
import type { JobRunner } from "./embeddedJobRunner";
import { checkHandlers } from "./embeddedJobRunner";
import { executeJob, publish } from "./executeJob";

export interface BullSettings {
  redisUrl: string;
  /** Key prefix of every queue, so several deployments or test runs share one Redis. */
  prefix: string;
  attempts: number;
  /** How long a worker's lock on a job lasts without renewal; a killed worker's job is taken over after it. */
  lockMs: number;
}

const QUEUE = "jobs";

export function bullConnection(redisUrl: string): ConnectionOptions {
  const url = new URL(redisUrl);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    username: url.username || undefined,
    password: url.password || undefined,
    db: url.pathname && url.pathname !== "/" ? Number(url.pathname.slice(1)) : undefined,
    tls: url.protocol === "rediss:" ? {} : undefined,
    maxRetriesPerRequest: null,
  };
}

/**
 * The API side of the distributed shape: jobs are rows in the database (the source of truth)
 * and entries in a BullMQ queue on Redis; `layermerge worker` processes run them.
 */
export class BullJobQueue implements JobRunner {
  private queue?: Queue;

  constructor(private readonly db: Db, private readonly events: JobEvents, private readonly settings: BullSettings) {}

  async start(): Promise<void> {
    this.queue = new Queue(QUEUE, { connection: bullConnection(this.settings.redisUrl), prefix: this.settings.prefix });
    await this.queue.waitUntilReady();
  }

  async stop(): Promise<void> {
    await this.queue?.close();
  }

  async enqueue(jobId: string): Promise<void> {
    // The database id is the BullMQ job id: enqueuing the same job twice adds it once.
    await this.queue!.add(
      "run",
      { jobId },
      {
        jobId,
        attempts: this.settings.attempts,
        backoff: { type: "exponential", delay: 1000 },
        removeOnComplete: { age: 24 * 3600, count: 10_000 },
        removeOnFail: { age: 7 * 24 * 3600 },
      },
    );
  }

  async cancel(jobId: string): Promise<void> {
    await this.db.job.updateMany({ where: { id: jobId, status: { in: ["QUEUED", "RUNNING"] } }, data: { cancelRequested: true } });
    const queued = await this.db.job.updateMany({ where: { id: jobId, status: "QUEUED" }, data: { status: "CANCELLED", finishedAt: new Date(), message: "cancelled before it started" } });
    if (queued.count) {
      await this.queue!.remove(jobId).catch(() => 0);
      await publish(this.db, this.events, jobId);
    }
    // A running job stops where it runs: the worker listens for this.
    this.events.requestCancel(jobId);
  }

  async counts(): Promise<Record<string, number>> {
    return this.queue!.getJobCounts();
  }
}

/**
 * A worker process's BullMQ worker. Stalled jobs (a worker killed mid-job stops renewing its
 * lock) are moved back to the queue by BullMQ and taken over by another worker; the database
 * row then counts a second attempt. Handlers are idempotent, so a job run twice leaves one
 * result.
 */
export class BullJobWorker {
  private worker?: Worker;
  private readonly controllers = new Map<string, AbortController>();
  private stopping = false;
  readonly name = `${hostname()}:${process.pid}`;

  constructor(
    private readonly db: Db,
    private readonly handlers: JobHandlers,
    private readonly events: JobEvents,
    private readonly logger: Logger,
    private readonly settings: BullSettings & { concurrency: number },
    private readonly observe?: (kind: string, end: string, seconds: number) => void,
  ) {
    checkHandlers(handlers);
  }

  async start(): Promise<void> {
    this.worker = new Worker(QUEUE, (job) => this.process(job), {
      connection: bullConnection(this.settings.redisUrl),
      prefix: this.settings.prefix,
      concurrency: this.settings.concurrency,
      lockDuration: this.settings.lockMs,
      stalledInterval: Math.max(1000, Math.floor(this.settings.lockMs / 2)),
      maxStalledCount: Math.max(1, this.settings.attempts),
    });
    this.worker.on("error", (error) => this.logger.error({ err: error }, "BullMQ worker error"));
    this.worker.on("stalled", (jobId) => this.logger.warn({ jobId }, "a job stalled (its worker stopped); it is being taken over"));
    await this.worker.waitUntilReady();
    this.logger.info({ worker: this.name, concurrency: this.settings.concurrency, prefix: this.settings.prefix }, "worker ready");
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const c of this.controllers.values()) c.abort(new Error("shutting down"));
    await this.worker?.close();
  }

  private async process(bullJob: BullJob): Promise<void> {
    const jobId = (bullJob.data as { jobId: string }).jobId;
    const controller = new AbortController();
    this.controllers.set(jobId, controller);
    const offCancel = this.events.onCancel(jobId, () => controller.abort());
    try {
      const attemptsLeft = bullJob.attemptsMade + 1 < (bullJob.opts.attempts ?? 1);
      const end = await executeJob(this.db, this.handlers, this.events, this.logger, jobId, {
        worker: this.name,
        signal: controller.signal,
        mayRetry: attemptsLeft,
        isShuttingDown: () => this.stopping,
        observe: this.observe,
      });
      if (end === "RETRY") throw new Error("transient failure; retrying with backoff");
      if (end === "INTERRUPTED") throw new Error("worker shutting down");
      if (end === "FAILED") throw new UnrecoverableError("failed (see the job's error in the registry)");
    } finally {
      offCancel();
      this.controllers.delete(jobId);
    }
  }
}
