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
/**
 * What a job of a kind made when it was queued (a merge search's row), removed when the job is
 * cancelled before its handler runs — a running handler removes it itself as it stops.
 */
export type JobDiscards = { readonly [K in JobKind]?: (payload: JobPayloads[K]) => Promise<void> };
export type JobHandlers = { readonly [K in JobKind]: JobHandler<K> } & { readonly discard?: JobDiscards };

/** Removes what a job of `kind` made when it was queued, if its kind has a discard. */
export async function runDiscard<K extends JobKind>(handlers: JobHandlers, kind: K, payload: unknown): Promise<void> {
  const discard = handlers.discard?.[kind] as ((payload: JobPayloads[K]) => Promise<void>) | undefined;
  await discard?.(payload as JobPayloads[K]);
}

/** Runs the handler of a job's kind on its stored payload (JSON written by the service that queued it). */
export function runHandler<K extends JobKind>(handlers: JobHandlers, kind: K, payload: unknown, context: JobContext): Promise<JobOutcome> {
  return (handlers[kind] as JobHandler<K>)(payload as JobPayloads[K], context);
}
