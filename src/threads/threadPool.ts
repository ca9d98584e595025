import * as fs from "node:fs";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { DomainError, DomainErrorCode } from "../core/errors";
import { NATIVE_THREAD_JOBS, type ThreadJobName, type ThreadJobPayload, type ThreadJobResult } from "./threadJobs";

/** How long close() waits for threads in native work to stop at their next check before ending them anyway. */
const CLOSE_GRACE_MS = 5000;

interface Pending {
  name: ThreadJobName;
  payload: unknown;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  onProgress?: (progress: unknown) => void;
  transfer?: ArrayBuffer[];
  signal?: AbortSignal;
  /** Cancelled while running native work: its thread was asked to stop and is let finish. */
  cancelled?: boolean;
}

interface Slot {
  thread: Worker;
  busy: Pending | null;
}

/** What the pool sends a thread: a job to run, or a request to stop the running one. */
export type ToPoolThread = { type: "run"; name: ThreadJobName; payload: unknown } | { type: "cancel" };

/** What crosses back from a pool thread: a result, a progress note, or an error as plain data. */
export type ThreadMessage =
  | { type: "result"; value: unknown }
  | { type: "progress"; value: unknown }
  | { type: "error"; error: { name: string; message: string; code?: DomainErrorCode; field?: string; details?: Record<string, unknown>; stack?: string } };

/**
 * A fixed pool of threads for CPU-heavy work (parsing, merging, evaluation), so the API's
 * event loop stays responsive. Errors come back as values and are rebuilt here: a DomainError
 * stays a DomainError with its code, anything else becomes an Error with the thread's message.
 * What a thread runs is a thread job (threadJobs.ts), not to be confused with a queued Job row:
 * one Job (a merge) runs several thread jobs (parse, merge, hash).
 */
export class ThreadPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private closed = false;

  constructor(private readonly size = 1) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`thread pool size must be ≥ 1 (got ${size})`);
  }

  /**
   * Runs a thread job on the next free thread. Aborting `signal` cancels it and the promise rejects
   * with a CANCELLED DomainError: a queued one is dropped; a running one of plain JavaScript has
   * its thread terminated (the pool starts a fresh one); a running one inside native code
   * (onnxruntime, sharp: NATIVE_THREAD_JOBS) is asked to stop and rejects when it has, at its
   * next image — terminating a thread while onnxruntime runs aborts the whole process.
   */
  run<K extends ThreadJobName>(name: K, payload: ThreadJobPayload<K>, options: { onProgress?: (p: unknown) => void; transfer?: ArrayBuffer[]; signal?: AbortSignal } = {}): Promise<ThreadJobResult<K>> {
    if (this.closed) return Promise.reject(new Error("the thread pool is closed"));
    if (options.signal?.aborted) return Promise.reject(cancelled());
    return new Promise((resolve, reject) => {
      const signal = options.signal;
      const onAbort = () => this.cancel(job);
      // A signal may outlive many jobs (a service's shutdown signal): a settled job lets go of it.
      const settle = <T>(f: (v: T) => void) => (v: T) => {
        signal?.removeEventListener("abort", onAbort);
        f(v);
      };
      const job: Pending = { name, payload, resolve: settle(resolve as (v: unknown) => void), reject: settle(reject), onProgress: options.onProgress, transfer: options.transfer, signal };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.queue.push(job);
      this.dispatch();
    });
  }

  private cancel(job: Pending): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      job.reject(cancelled());
      return;
    }
    const slot = this.slots.find((s) => s.busy === job);
    if (!slot) return;
    if (NATIVE_THREAD_JOBS.has(job.name)) {
      // The slot stays busy until the thread answers; the answer becomes the CANCELLED rejection.
      job.cancelled = true;
      slot.thread.postMessage({ type: "cancel" } satisfies ToPoolThread);
      return;
    }
    slot.busy = null;
    this.slots.splice(this.slots.indexOf(slot), 1);
    void slot.thread.terminate();
    job.reject(cancelled());
    this.dispatch();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new Error("the thread pool closed before the thread job ran"));
    // Threads in native work are asked to stop first (see run); one that does not answer within
    // the grace is ended anyway, the process being on its way out.
    const native = this.slots.filter((s) => s.busy && NATIVE_THREAD_JOBS.has(s.busy.name));
    if (native.length) {
      const answered = native.map((s) => new Promise<void>((resolve) => {
        s.thread.on("message", (m: ThreadMessage) => m.type !== "progress" && resolve());
        s.thread.once("exit", () => resolve());
      }));
      for (const s of native) s.thread.postMessage({ type: "cancel" } satisfies ToPoolThread);
      await Promise.race([Promise.all(answered), new Promise((resolve) => setTimeout(resolve, CLOSE_GRACE_MS).unref())]);
    }
    await Promise.all(this.slots.map((s) => s.thread.terminate()));
    this.slots.length = 0;
  }

  private dispatch(): void {
    while (this.queue.length) {
      let slot = this.slots.find((s) => !s.busy);
      if (!slot && this.slots.length < this.size) slot = this.spawn();
      if (!slot) return;
      const job = this.queue.shift()!;
      slot.busy = job;
      slot.thread.postMessage({ type: "run", name: job.name, payload: job.payload } satisfies ToPoolThread, job.transfer ?? []);
    }
  }

  private spawn(): Slot {
    const thread = startThread();
    const slot: Slot = { thread, busy: null };
    thread.unref();
    thread.on("message", (message: ThreadMessage) => {
      const job = slot.busy;
      if (!job) return;
      if (message.type === "progress") {
        if (!job.cancelled) job.onProgress?.(message.value);
        return;
      }
      slot.busy = null;
      if (job.cancelled) job.reject(cancelled());
      else if (message.type === "result") job.resolve(message.value);
      else job.reject(rebuildError(message.error));
      this.dispatch();
    });
    const fail = (error: Error) => {
      const job = slot.busy;
      slot.busy = null;
      this.slots.splice(this.slots.indexOf(slot), 1);
      job?.reject(new Error(`pool thread died: ${error.message}`));
      this.dispatch();
    };
    thread.on("error", fail);
    thread.on("exit", (code) => {
      // A slot removed by cancel() was terminated on purpose.
      if (this.slots.includes(slot)) fail(new Error(`exit code ${code}`));
    });
    this.slots.push(slot);
    return slot;
  }
}

function cancelled(): DomainError {
  return new DomainError("CANCELLED", "cancelled");
}

function startThread(): Worker {
  const compiled = path.join(__dirname, "threadMain.js");
  if (fs.existsSync(compiled)) return new Worker(compiled);
  // Running from TypeScript sources (tests): compile on the fly with the same swc settings.
  const hook = path.resolve(__dirname, "..", "..", "scripts", "ts-hook.js");
  const entry = path.join(__dirname, "threadMain.ts");
  return new Worker(`require(${JSON.stringify(hook)}); require(${JSON.stringify(entry)});`, { eval: true });
}

function rebuildError(e: Extract<ThreadMessage, { type: "error" }>["error"]): Error {
  if (e.code) {
    const error = new DomainError(e.code, e.message, { field: e.field, details: e.details });
    return error;
  }
  const error = new Error(e.message);
  error.name = e.name;
  if (e.stack) error.stack = e.stack;
  return error;
}
