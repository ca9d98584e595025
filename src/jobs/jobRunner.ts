import { JOB_KINDS, type JobHandlers } from "./jobTypes";

/**
 * Runs queued jobs: the embedded runner (rows in the database, run in this process) or the
 * BullMQ queue (Redis, run by worker processes). Services only queue and cancel through it.
 */
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
