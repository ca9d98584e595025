import type { JobPayloads } from "./jobPayloads";

/**
 * Jobs are a discriminated union: each kind has one payload type (jobPayloads.ts) and exactly
 * one handler (checked when a runner starts). Handlers must be idempotent: the same job run
 * twice leaves one result.
 */
export const JOB_KINDS = ["MERGE", "EVALUATE", "MERGE_SEARCH"] as const satisfies ReadonlyArray<keyof JobPayloads>;
export type JobKind = (typeof JOB_KINDS)[number];

export const JOB_STATUSES = ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export interface JobProgress {
  id: string;
  kind: string;
  status: JobStatus;
  progress: number;
  message: string | null;
  error: string | null;
}

export interface JobContext {
  jobId: string;
  attempt: number;
  signal: AbortSignal;
  /** fraction in [0, 1]; persisted at a bounded rate, published to subscribers every time. */
  progress(fraction: number, message?: string): void;
}

/** What a handler returns: stored as the job's result, with a closing message. */
export interface JobOutcome {
  result: Record<string, unknown>;
  message: string;
}

export type JobHandler<K extends JobKind> = (payload: JobPayloads[K], context: JobContext) => Promise<JobOutcome>;
export type JobHandlers = { readonly [K in JobKind]: JobHandler<K> };

/** Runs the handler of a job's kind on its stored payload (JSON written by the service that queued it). */
export function runHandler<K extends JobKind>(handlers: JobHandlers, kind: K, payload: unknown, context: JobContext): Promise<JobOutcome> {
  return (handlers[kind] as JobHandler<K>)(payload as JobPayloads[K], context);
}
