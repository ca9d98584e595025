import { Queue, Worker, UnrecoverableError, type ConnectionOptions, type Job as BullJob } from "bullmq";
import type { Db } from "../persistence/database";
import type { Logger } from "../logging";
import type { JobEvents } from "./jobEvents";
import type { JobHandlers } from "./jobTypes";
import { checkHandlers, type JobRunner } from "./jobRunner";
import { executeJob, publish } from "./executeJob";
import IORedis from "ioredis";
import type { OutageLog } from "../outage";
import { reasonOf } from "../outage";
import { isDatabaseUnreachable } from "../persistence/databaseErrors";
import { commandFailed, isRedisConnectionError, redisOptions, watchRedis } from "./redisConnection";
import { JobReconciler, type QueueState, type QueueView } from "./reconciler";
import { queueWorkerName } from "./processIdentity";

export interface BullSettings {
  redisUrl: string;
  /** Key prefix of every queue, so several deployments or test runs share one Redis. */
  prefix: string;
  attempts: number;
  /** How long a worker's lock on a job lasts without renewal; a killed worker's job is taken over after it. */
  lockMs: number;
  /** How often the queue is reconciled with the database (see JobReconciler). */
  reconcileMs: number;
}

/** What a process logs about its dependencies' outages (once per outage). */
export interface Outages {
  database: OutageLog;
  redis: OutageLog;
}

const QUEUE = "jobs";
/**
 * A queue entry of this name is no job row: it asks whichever worker takes it to join a running
 * merge search (its candidates fan out over the workers). Hints are best effort: the search's
 * owner scores whatever no one else does, so a hint lost with Redis costs speed, not results.
 */
const JOIN_SEARCH = "join-search";
/** An enqueue that Redis does not answer within this is left to the reconciler. */
const ENQUEUE_TIMEOUT_MS = 2000;
/** How long a worker waits for Redis to acknowledge its goodbye before dropping the connection. */
const CLOSE_TIMEOUT_MS = 5000;

/** A join hint's data: the search and its MERGE_SEARCH job (whose cancel stops every participant). */
export interface JoinHint {
  searchId: string;
  jobId: string;
}

export function bullConnection(redisUrl: string): ConnectionOptions {
  return redisOptions(redisUrl) as ConnectionOptions;
}

/**
 * The queue side of the distributed shape, in every API and worker process: jobs are rows in
 * the database (the source of truth) and entries in a BullMQ queue on Redis, which
 * `layermerge worker` processes run. Enqueuing never waits for Redis: when it is down the job
 * stays QUEUED in the database and the reconciler queues it when Redis is back.
 */
export class BullJobQueue implements JobRunner, QueueView {
  private queue?: Queue;
  private client?: IORedis;
  private reconciler?: JobReconciler;

  constructor(private readonly db: Db, private readonly events: JobEvents, private readonly logger: Logger, private readonly outages: Outages, private readonly settings: BullSettings) {}

  async start(): Promise<void> {
    // Commands fail at once while Redis is unreachable (no offline queue) and within a bound
    // when it does not answer, so no request waits for Redis.
    this.client = new IORedis({ ...redisOptions(this.settings.redisUrl), enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: ENQUEUE_TIMEOUT_MS });
    watchRedis(this.client, this.outages.redis, "queue");
    this.queue = new Queue(QUEUE, { connection: this.client, prefix: this.settings.prefix });
    // The queue's errors are its connection's, which watchRedis reports.
    this.queue.on("error", () => undefined);
    await this.queue.waitUntilReady();
    this.reconciler = new JobReconciler(this.db, this, this.logger, this.outages, { intervalMs: this.settings.reconcileMs, lockMs: this.settings.lockMs });
    this.outages.redis.onRecovery(() => this.reconciler?.kick());
    this.outages.database.onRecovery(() => this.reconciler?.kick());
    // Redis may have restarted empty without an outage being seen (a quick restart): reconcile
    // whenever the queue's connection is re-established.
    this.client.on("ready", () => this.reconciler?.kick());
    this.reconciler.start();
  }

  /** Reconciles the queue with the database now; returns what it queued (see JobReconciler). */
  reconcile(): Promise<{ enqueued: string[]; requeued: string[] }> {
    return this.reconciler!.reconcileNow();
  }

  async stop(): Promise<void> {
    await this.reconciler?.stop();
    await this.queue?.close().catch(() => undefined);
    this.client?.disconnect();
  }

  /** Never throws for Redis: the job row is QUEUED already, and the reconciler queues it later. */
  async enqueue(jobId: string): Promise<void> {
    try {
      await this.add(jobId);
      this.outages.redis.ok();
    } catch (error) {
      commandFailed(this.outages.redis, error, "jobs are recorded as QUEUED and queued when it is back");
    }
  }

  async add(jobId: string): Promise<void> {
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

  /** Queues a join hint for a running search (see JOIN_SEARCH); never throws. */
  async hintJoin(searchId: string, jobId: string, delayMs: number): Promise<void> {
    try {
      await this.queue!.add(JOIN_SEARCH, { searchId, jobId } satisfies JoinHint, { delay: delayMs, attempts: 1, removeOnComplete: true, removeOnFail: true });
    } catch (error) {
      commandFailed(this.outages.redis, error, "merge searches run on their owners' threads until it is back");
    }
  }

  async states(jobIds: string[]): Promise<QueueState[]> {
    if (!jobIds.length) return [];
    const pipeline = this.client!.pipeline();
    for (const id of jobIds) {
      pipeline.exists(this.queue!.toKey(id));
      pipeline.zscore(this.queue!.keys.completed, id);
      pipeline.zscore(this.queue!.keys.failed, id);
    }
    const replies = (await pipeline.exec()) ?? [];
    for (const [error] of replies) if (error) throw error;
    return jobIds.map((_, i) => {
      const [exists, completed, failed] = replies.slice(3 * i, 3 * i + 3).map(([, value]) => value);
      if (!exists) return "absent";
      return completed !== null || failed !== null ? "finished" : "pending";
    });
  }

  async ping(): Promise<void> {
    await this.client!.ping();
  }

  async removeFinished(jobId: string): Promise<void> {
    await this.queue!.remove(jobId);
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
  readonly name = queueWorkerName();

  constructor(
    private readonly db: Db,
    private readonly handlers: JobHandlers,
    private readonly events: JobEvents,
    private readonly logger: Logger,
    private readonly settings: BullSettings & { concurrency: number },
    private readonly outages: Outages,
    private readonly observe?: (kind: string, end: string, seconds: number) => void,
    /** Takes part in a running merge search until it has nothing left for this process (a join hint). */
    private readonly joinSearch?: (hint: JoinHint, signal: AbortSignal) => Promise<void>,
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

    // During a Redis outage the worker's connections report every failed reconnect; the
    // process's own watched connections log the outage once instead (see OutageLog). Other
    // errors keep their message, without a stack.
    this.worker.on("error", (error) => {
      if (!isRedisConnectionError(error)) this.logger.warn({ reason: reasonOf(error) }, "BullMQ worker error");
    });
    this.worker.on("stalled", (jobId) => this.logger.warn({ jobId }, "a job stalled (its worker stopped); it is being taken over"));
    await this.worker.waitUntilReady();
    this.logger.info({ worker: this.name, concurrency: this.settings.concurrency, prefix: this.settings.prefix }, "worker ready");
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const c of this.controllers.values()) c.abort(new Error("shutting down"));
    // A graceful close waits for Redis to say goodbye; while Redis is down that would be
    // forever, so the connections are dropped instead (running jobs were aborted above and
    // the reconciler re-queues them).
    const worker = this.worker;
    if (!worker) return;
    const closed = worker.close(this.outages.redis.isDown);
    const bound = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), CLOSE_TIMEOUT_MS).unref());
    // Redis may have gone without this process noticing yet: a close still pending after the
    // bound is abandoned, its connections dropped without waiting for them either.
    if ((await Promise.race([closed, bound])) === "timeout") void worker.disconnect().catch(() => undefined);
  }

  private async process(bullJob: BullJob): Promise<void> {
    if (bullJob.name === JOIN_SEARCH) return this.join(bullJob.data as JoinHint);
    const jobId = (bullJob.data as { jobId: string }).jobId;
    const controller = new AbortController();
    this.controllers.set(jobId, controller);
    const offCancel = this.events.onCancel(jobId, () => controller.abort());
    // The heartbeat says this worker is alive even when a handler reports no progress for a
    // while; the reconciler re-queues a RUNNING job only when it stops for longer than the lock.
    const beat = setInterval(() => {
      void this.db.job
        .updateMany({ where: { id: jobId, status: "RUNNING" }, data: { heartbeatAt: new Date() } })
        .then(() => this.outages.database.ok(), (error) => this.databaseFailed(error));
    }, Math.max(250, Math.floor(this.settings.lockMs / 3)));
    beat.unref();
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
      this.outages.database.ok();
    } catch (error) {
      // The database is down: the job row is untouched (or still RUNNING) and the queue retries
      // it with backoff; once its attempts are spent, the reconciler queues it again.
      if (isDatabaseUnreachable(error)) this.databaseFailed(error);
      throw error;
    } finally {
      clearInterval(beat);
      offCancel();
      this.controllers.delete(jobId);
    }
  }

  /** A join hint: no job row, no retry; the search's cancel and this worker's shutdown stop it. */
  private async join(hint: JoinHint): Promise<void> {
    if (!this.joinSearch) return;
    const controller = new AbortController();
    const slot = `${JOIN_SEARCH}:${hint.searchId}:${Math.random()}`;
    this.controllers.set(slot, controller);
    const offCancel = this.events.onCancel(hint.jobId, () => controller.abort(new Error("cancelled")));
    try {
      await this.joinSearch(hint, controller.signal);
    } catch (error) {
      if (!controller.signal.aborted) this.logger.warn({ searchId: hint.searchId, reason: reasonOf(error) }, "left a merge search after an error; its owner scores what is left");
    } finally {
      offCancel();
      this.controllers.delete(slot);
    }
  }

  private databaseFailed(error: unknown): void {
    if (isDatabaseUnreachable(error)) this.outages.database.failed(error, "jobs wait in the queue until it is back");
    else this.logger.warn({ reason: reasonOf(error) }, "heartbeat write failed");
  }
}
