import type { Db } from "../persistence/database";
import type { Logger } from "../logging";
import type { JobEvents } from "./jobEvents";
import type { JobHandlers } from "./jobTypes";
import { checkHandlers, type JobRunner } from "./jobRunner";
import { executeJob, publish } from "./executeJob";
import { pidScope, processAlive, splitWorker, workerName } from "./processIdentity";

export interface EmbeddedRunnerOptions {
  concurrency?: number;
  /** How long a job may go without a heartbeat before another process takes it over. */
  lockMs?: number;
  /** Runs per job: a transient failure (not bad input) is retried after 1 s, 2 s, 4 s… until then. */
  attempts?: number;
  observe?: (kind: string, end: string, seconds: number) => void;
}

/**
 * The embedded runner: jobs are rows in the database, run `concurrency` at a time in this
 * process (the heavy part of each runs on the thread pool). Several API processes may
 * share one PostgreSQL database, each with its own runner, so a job is claimed with one
 * conditional update (QUEUED → RUNNING): of two processes that pick the same row, one wins.
 * A running job's heartbeat is renewed while it runs; a RUNNING job whose process died (on this
 * host and in this PID namespace, its pid is gone) or whose heartbeat is older than `lockMs` is queued again, at start and
 * periodically, and taken over — never the live job of another process. A transient failure
 * (not bad input) runs again after a backoff while attempts are left.
 */
export class EmbeddedJobRunner implements JobRunner {
  private readonly running = new Map<string, AbortController>();
  readonly worker = workerName();
  private stopped = true;
  private pumping = false;
  private retry?: NodeJS.Timeout;
  private ticker?: NodeJS.Timeout;
  private readonly concurrency: number;
  private readonly lockMs: number;
  private readonly attempts: number;
  /** Jobs that failed transiently here, and when they may run again (backoff). */
  private readonly backoff = new Map<string, number>();
  private readonly observe?: (kind: string, end: string, seconds: number) => void;

  constructor(
    private readonly db: Db,
    private readonly handlers: JobHandlers,
    private readonly events: JobEvents,
    private readonly logger: Logger,
    options: EmbeddedRunnerOptions = {},
  ) {
    checkHandlers(handlers);
    this.concurrency = options.concurrency ?? 1;
    this.lockMs = options.lockMs ?? 30_000;
    this.attempts = options.attempts ?? 1;
    this.observe = options.observe;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.reclaim(true);
    // Jobs arrive through enqueue() in this process and are pumped then and when a job ends. A
    // tick renews the heartbeats of running jobs and takes over the jobs of processes that died
    // (and picks up jobs another process queued but has no slot for).
    this.ticker = setInterval(() => void this.tick(), Math.max(200, Math.min(2000, Math.floor(this.lockMs / 3))));
    this.ticker.unref();
    void this.pump();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    if (this.ticker) clearInterval(this.ticker);
    // Running jobs stay RUNNING in the database and resume at the next start.
    for (const controller of this.running.values()) controller.abort(new Error("shutting down"));
  }

  async enqueue(_jobId: string): Promise<void> {
    void this.pump();
  }

  async cancel(jobId: string): Promise<void> {
    await markCancelled(this.db, this.events, jobId);
    this.abort(jobId);
  }

  /** Stops the job if this runner runs it (its row says cancelRequested already). */
  abort(jobId: string): void {
    this.running.get(jobId)?.abort();
  }

  /**
   * Queues again the RUNNING jobs nobody runs any more: those of a process of this host whose
   * pid is gone (or of this very worker name: an earlier process with the same pid, such as pid 1
   * in a restarted container), and any whose heartbeat is older than `lockMs`. Each update is
   * conditional on the row being unchanged, so two processes reclaiming at once queue a job once.
   */
  private async reclaim(starting = false): Promise<void> {
    const cutoff = new Date(Date.now() - this.lockMs);
    const candidates = await this.db.job.findMany({ where: { status: "RUNNING", id: { notIn: [...this.running.keys()] } }, select: { id: true, worker: true, heartbeatAt: true } });
    let count = 0;
    for (const job of candidates) {
      if (this.running.has(job.id)) continue;
      const dead = job.worker ? this.isDeadHere(job.worker, starting) : false;
      const stale = !job.heartbeatAt || job.heartbeatAt < cutoff;
      if (!dead && !stale) continue;
      const requeued = await this.db.job.updateMany({
        where: { id: job.id, status: "RUNNING", worker: job.worker, heartbeatAt: job.heartbeatAt },
        data: { status: "QUEUED", message: dead ? "resumed: the process running it stopped" : "resumed: its process stopped renewing it" },
      });
      count += requeued.count;
    }
    if (count) this.logger.warn({ count }, "re-queued jobs whose process stopped");
  }

  private isDeadHere(worker: string, starting: boolean): boolean {
    // Before this runner claims anything, a job under its own name is an earlier process's.
    if (worker === this.worker) return starting;
    const [scope, pid] = splitWorker(worker);
    if (scope !== pidScope() || !pid) return false;
    return !processAlive(pid);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      if (this.running.size) {
        const ids = [...this.running.keys()];
        await this.db.job.updateMany({ where: { id: { in: ids }, status: "RUNNING", worker: this.worker }, data: { heartbeatAt: new Date() } });
        // cancelJob may have been asked of another process sharing the database: it only sets the flag.
        const cancelled = await this.db.job.findMany({ where: { id: { in: ids }, cancelRequested: true }, select: { id: true } });
        for (const { id } of cancelled) this.running.get(id)?.abort();
      }
      await this.reclaim();
    } catch (error) {
      this.logger.warn({ err: error }, "job runner heartbeat failed");
    }
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping || this.stopped) return;
    this.pumping = true;
    try {
      const skip = new Set<string>();
      while (!this.stopped && this.running.size < this.concurrency) {
        const now = Date.now();
        for (const [id, until] of this.backoff) if (until <= now) this.backoff.delete(id);
        const next = await this.db.job.findFirst({
          where: { status: "QUEUED", id: { notIn: [...this.running.keys(), ...skip, ...this.backoff.keys()] } },
          orderBy: [{ createdAt: "asc" }, { id: "asc" }],
          select: { id: true },
        });
        if (!next) break;
        // The claim: only one process's update finds the row still QUEUED.
        const claimed = await this.db.job.updateMany({ where: { id: next.id, status: "QUEUED" }, data: { status: "RUNNING", worker: this.worker, heartbeatAt: new Date() } });
        if (!claimed.count) {
          skip.add(next.id);
          continue;
        }
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
    if (this.running.has(jobId)) return;
    const controller = new AbortController();
    this.running.set(jobId, controller);
    try {
      let attempt = 0;
      const end = await executeJob(this.db, this.handlers, this.events, this.logger, jobId, {
        worker: this.worker,
        signal: controller.signal,
        mayRetry: (n) => (attempt = n) < this.attempts,
        isShuttingDown: () => this.stopped,
        observe: this.observe,
      });
      if (end === "RETRY") {
        const delay = 1000 * 2 ** Math.max(0, attempt - 1);
        this.backoff.set(jobId, Date.now() + delay);
        setTimeout(() => void this.pump(), delay + 10).unref();
      }
    } catch (error) {
      this.logger.error({ err: error, jobId }, "job bookkeeping failed");
    } finally {
      this.running.delete(jobId);
      void this.pump();
    }
  }
}

/**
 * A cancel's database side, for whichever process is asked: the flag (the runner running the job
 * sees it at its next heartbeat, in any process), and a job not started yet ends CANCELLED at once.
 */
export async function markCancelled(db: Db, events: JobEvents, jobId: string): Promise<void> {
  await db.job.updateMany({ where: { id: jobId, status: { in: ["QUEUED", "RUNNING"] } }, data: { cancelRequested: true } });
  const queued = await db.job.updateMany({ where: { id: jobId, status: "QUEUED" }, data: { status: "CANCELLED", finishedAt: new Date(), message: "cancelled before it started" } });
  if (queued.count) await publish(db, events, jobId);
}
