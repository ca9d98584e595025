/**
 * onnxruntime failures fall in two kinds. The model or its input is at fault — a file that does
 * not parse, an operator it lacks, a shape the graph refuses: that fails the same way every time,
 * so it is the caller's mistake (BAD_USER_INPUT, never retried). Or the machine is short of
 * something — memory, file handles, threads — or the inference thread died: that may pass,
 * so it is a TransientRuntimeError, which is not a DomainError and so is retried by the job layer
 * while attempts are left (and reported as INTERNAL once they are not).
 */
export class TransientRuntimeError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "TransientRuntimeError";
  }
}

/**
 * What onnxruntime and Node say when a resource runs out: the CPU allocator's "Failed to allocate
 * memory for requested buffer of size N" (bfc_arena.cc), C++'s bad_alloc, errno texts and codes
 * (ENOMEM, EMFILE, ENFILE, EAGAIN), thread creation, and a thread's own out-of-memory exit.
 */
const RESOURCE_EXHAUSTED = [
  /failed to allocate memory/i,
  /\bbad[_ ]alloc/i,
  /\bbad allocation\b/i,
  /out of memory/i,
  /cannot allocate memory/i,
  /\bENOMEM\b/,
  /\bEMFILE\b|\bENFILE\b|too many open files/i,
  /\bEAGAIN\b|resource temporarily unavailable/i,
  /(failed to|could not|cannot|unable to) create (a )?thread/i,
  /ERR_WORKER_OUT_OF_MEMORY|ERR_WORKER_INIT_FAILED/,
];

/** Whether an onnxruntime (or inference thread) error message says a resource ran out rather than that the model is wrong. */
export function isResourceExhaustion(message: string): boolean {
  return RESOURCE_EXHAUSTED.some((pattern) => pattern.test(message));
}
