import type { Db } from "../persistence/database";
import type { Logger } from "../logging";
import { isDatabaseUnreachable } from "../persistence/databaseErrors";
import { reasonOf, type OutageLog } from "../outage";
import { requeueIfStale, staleRunningJobs } from "./staleJobs";
import { commandFailed } from "./redisConnection";

/** Where a job id stands in the queue: not there, there but finished, or waiting / delayed / active. */
export type QueueState = "absent" | "finished" | "pending";

/** The queue as the reconciler sees it. */
export interface QueueView {
  states(jobIds: string[]): Promise<QueueState[]>;
  /** Adds the job under its own id: adding an id that is already queued adds nothing. */
  add(jobId: string): Promise<void>;
  /** Drops a finished entry so that its id can be queued again. */
  removeFinished(jobId: string): Promise<void>;
  /** A round trip to Redis, so each pass learns whether it answers even when there is no work. */
  ping(): Promise<void>;
}

export interface ReconcileSettings {
  intervalMs: number;
  /** How long a runner may hold a job without a heartbeat before the job counts as abandoned. */
  lockMs: number;
}

const PAGE = 500;

class RedisFailure extends Error {
  constructor(readonly original: unknown) {
    super(reasonOf(original));
  }
}

/**
 * The database is the source of truth for jobs; the queue is a cache of what should run. This
 * brings the queue back in line with the database — at start, every `intervalMs`, and as soon
 * as Redis is back after an outage: QUEUED jobs missing from the queue (Redis lost its data, or
 * was down when the job was created) are queued again, and RUNNING jobs whose runner stopped
 * reporting for longer than the lock are put back to QUEUED and queued — unless the queue still
 * has them (then BullMQ's own stall detection owns them). Job ids are the database ids, so every
 * API and worker process may run this at once without queuing anything twice.
 */
export class JobReconciler {
  private timer?: NodeJS.Timeout;
  private pass?: Promise<void>;
  private again = false;
  private stopped = true;

  constructor(
    private readonly db: Db,
    private readonly queue: QueueView,
    private readonly logger: Logger,
    private readonly outages: { database: OutageLog; redis: OutageLog },
    private readonly settings: ReconcileSettings,
  ) {}

  start(): void {
    this.stopped = false;
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.pass;
  }

  /** Runs a pass now (or right after the one in progress), then keeps the interval. */
  kick(): void {
    if (this.stopped) return;
    if (this.pass) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.pass = this.reconcileLogged().finally(() => {
      this.pass = undefined;
      if (this.stopped) return;
      if (this.again) {
        this.again = false;
        this.kick();
        return;
      }
      this.timer = setTimeout(() => this.kick(), this.settings.intervalMs);
      this.timer.unref();
    });
  }

  private async reconcileLogged(): Promise<void> {
    try {
      const { enqueued, requeued } = await this.reconcile();
      if (enqueued.length || requeued.length) this.logger.info({ enqueued: enqueued.length, requeued: requeued.length }, "queued again the jobs the queue had lost or whose worker stopped reporting");
    } catch (error) {
      if (error instanceof RedisFailure) commandFailed(this.outages.redis, error.original, "jobs are recorded as QUEUED and queued when it is back");
      else if (isDatabaseUnreachable(error)) this.outages.database.failed(error, "jobs are reconciled when it is back");
      else this.logger.error({ reason: reasonOf(error) }, "job reconciliation failed; it runs again at the next interval");
    }
  }

  /** One pass after the one in progress, if any (for callers that need its outcome). */
  async reconcileNow(): Promise<{ enqueued: string[]; requeued: string[] }> {
    await this.pass;
    return this.reconcile();
  }

  /** One pass; returns the ids it queued again (QUEUED jobs) and re-queued (stale RUNNING jobs). */
  async reconcile(): Promise<{ enqueued: string[]; requeued: string[] }> {
    const enqueued: string[] = [];
    const requeued: string[] = [];
    let after: { createdAt: Date; id: string } | null = null;
    for (;;) {
      const keyset: object = after ? { OR: [{ createdAt: { gt: after.createdAt } }, { createdAt: after.createdAt, id: { gt: after.id } }] } : {};
      const rows: Array<{ id: string; createdAt: Date }> = await this.db.job.findMany({ where: { status: "QUEUED", ...keyset }, orderBy: [{ createdAt: "asc" }, { id: "asc" }], select: { id: true, createdAt: true }, take: PAGE });
      this.outages.database.ok();
      if (!rows.length) break;
      const states = await this.redis(() => this.queue.states(rows.map((r) => r.id)));
      for (let i = 0; i < rows.length; i++) {
        if (states[i] === "pending") continue;
        if (states[i] === "finished") {
          // The queue ran it (or gave up) while the database still says QUEUED: a retry whose
          // attempts ran out, or a run that died before recording anything. Look again first:
          // it may have ended between the two reads.
          const row = await this.db.job.findUnique({ where: { id: rows[i].id }, select: { status: true } });
          if (row?.status !== "QUEUED") continue;
          await this.redis(() => this.queue.removeFinished(rows[i].id));
        }
        await this.redis(() => this.queue.add(rows[i].id));
        enqueued.push(rows[i].id);
      }
      if (rows.length < PAGE) break;
      after = rows[rows.length - 1];
    }

    const stale = await staleRunningJobs(this.db, this.settings.lockMs);
    if (stale.length) {
      const states = await this.redis(() => this.queue.states(stale));
      for (let i = 0; i < stale.length; i++) {
        if (states[i] === "pending") continue;
        if (!(await requeueIfStale(this.db, stale[i], this.settings.lockMs))) continue;
        if (states[i] === "finished") await this.redis(() => this.queue.removeFinished(stale[i]));
        await this.redis(() => this.queue.add(stale[i]));
        requeued.push(stale[i]);
      }
    }
    await this.redis(() => this.queue.ping());
    return { enqueued, requeued };
  }

  private async redis<T>(fn: () => Promise<T>): Promise<T> {
    try {
      const result = await fn();
      this.outages.redis.ok();
      return result;
    } catch (error) {
      throw new RedisFailure(error);
    }
  }
}
