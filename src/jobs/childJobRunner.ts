import { fork, type ChildProcess } from "node:child_process";
import type { Db } from "../persistence/database";
import type { Logger } from "../logging";
import type { JobEvents, JobEventMessage } from "./jobEvents";
import type { JobRunner } from "./jobRunner";
import { markCancelled } from "./embeddedJobRunner";

/** What the API process tells its job-runner child over IPC. */
export type ToRunner = { type: "config"; config: unknown } | { type: "enqueue" } | { type: "cancel"; jobId: string } | { type: "stop" };
/** What the job-runner child tells the API process. */
export type FromRunner =
  | { type: "ready" }
  | { type: "event"; message: JobEventMessage }
  | { type: "observe"; kind: string; end: string; seconds: number };

export interface ChildRunnerOptions {
  /** The script the child runs (it serves `runnerChannel` with an embedded runner). */
  entry: string;
  /**
   * The API's resolved configuration, the child's first message: the child runs with exactly
   * what the API was started with (a program that builds its Config in code, as the demo does,
   * has nothing in the environment for the child to read), and secrets stay off its command line.
   */
  config: unknown;
  /** Node options for the child (a TypeScript hook when running from sources). */
  execArgv?: string[];
  /** The child's environment (default: this process's), e.g. with the job processes' allocator settings. */
  env?: NodeJS.ProcessEnv;
  /** How long `start` waits for the child to say it is ready. */
  readyTimeoutMs?: number;
  /** How long `stop` waits for the child to exit before killing it. */
  stopTimeoutMs?: number;
  observe?: (kind: string, end: string, seconds: number) => void;
}

/**
 * The embedded shape's runner as seen from the API process: jobs run in a child process with its
 * own event loop, database connection and thread pool (an embedded runner there), so claiming,
 * heartbeats, progress writes and output adoption never wait behind request handling here.
 *
 * The database stays the source of truth (the child claims QUEUED rows as any embedded runner
 * does); IPC only carries nudges down (a job was queued, a job was cancelled) and job events and
 * durations up, which reach GraphQL subscriptions and /metrics in this process. A child that
 * dies is started again after a backoff; the new one re-queues the dead one's RUNNING jobs at its
 * start (their pid is gone) and removes its merge scratch. The child exits when this process
 * goes away (its IPC channel closes), so none is left behind.
 */
export class ChildJobRunner implements JobRunner {
  private child: ChildProcess | null = null;
  /** Whether the current child has said it is ready (it listens to IPC only from then on). */
  private childReady = false;
  private stopping = false;
  private restarts = 0;
  private restartTimer?: NodeJS.Timeout;
  private readonly readyTimeoutMs: number;
  private readonly stopTimeoutMs: number;

  constructor(
    private readonly db: Db,
    private readonly events: JobEvents,
    private readonly logger: Logger,
    private readonly options: ChildRunnerOptions,
  ) {
    this.readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 15_000;
  }

  /** The running child's pid (tests and operators look for it), or null between restarts. */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /**
   * Starts the child and returns once it runs, not once it is ready: the API need not wait for
   * the runner's start-up (its jobs wait in the database meanwhile). A child that fails to get
   * ready is logged and started again.
   */
  async start(): Promise<void> {
    this.stopping = false;
    await this.spawn();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    // A child still starting runs no job yet, and may not listen to IPC: a signal stops it.
    if (this.childReady) this.send({ type: "stop" });
    else child.kill("SIGTERM");
    const timer = setTimeout(() => {
      this.logger.warn({ pid: child.pid }, "the job runner did not stop in time; killing it");
      child.kill("SIGKILL");
    }, this.stopTimeoutMs);
    await exited;
    clearTimeout(timer);
  }

  async enqueue(_jobId: string): Promise<void> {
    // The row is QUEUED already: the child finds it now, or at its next start if it is down.
    this.send({ type: "enqueue" });
  }

  async cancel(jobId: string): Promise<void> {
    await markCancelled(this.db, this.events, jobId);
    this.send({ type: "cancel", jobId });
  }

  private send(message: ToRunner): void {
    const child = this.child;
    if (!child?.connected) return;
    child.send(message, (error) => {
      // The child went away between the check and the send: it is restarted, and the database
      // tells the new one what this message would have.
      if (error) this.logger.debug({ err: error }, "job runner message not delivered");
    });
  }

  private spawn(): Promise<void> {
    const child = fork(this.options.entry, [], { execArgv: this.options.execArgv ?? [], stdio: "inherit", serialization: "advanced", env: this.options.env });
    this.child = child;
    this.childReady = false;
    child.send({ type: "config", config: this.options.config } satisfies ToRunner, (error) => {
      if (error) this.logger.debug({ err: error }, "job runner configuration not delivered");
    });
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the job runner (pid ${child.pid}) did not start within ${this.readyTimeoutMs} ms`)), this.readyTimeoutMs);
      child.on("message", (message: FromRunner) => {
        if (message.type === "ready") {
          clearTimeout(timer);
          this.restarts = 0;
          if (this.child === child) this.childReady = true;
          resolve();
        } else if (message.type === "event") this.events.deliver(message.message);
        else if (message.type === "observe") this.options.observe?.(message.kind, message.end, message.seconds);
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the job runner exited before it was ready (${signal ?? `code ${code}`})`));
      });
    });
    ready.catch((error) => {
      if (this.stopping) return;
      this.logger.error({ err: error }, "the job runner did not start");
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
    child.once("exit", (code, signal) => {
      if (this.child === child) this.child = null;
      if (this.stopping) return;
      // Running jobs' events may have been lost with it: streams read their job's state again.
      this.events.resync();
      const delay = Math.min(30_000, 500 * 2 ** this.restarts++);
      this.logger.error({ pid: child.pid, code, signal, restartInMs: delay }, "the job runner process stopped; starting another (it resumes the jobs it ran)");
      this.restartTimer = setTimeout(() => {
        if (this.stopping) return;
        void this.spawn().catch((error) => this.logger.error({ err: error }, "the job runner could not be started"));
      }, delay);
      this.restartTimer.unref();
    });
    return new Promise<void>((resolve, reject) => {
      child.once("spawn", () => resolve());
      child.once("error", (error) => reject(error));
    });
  }
}
