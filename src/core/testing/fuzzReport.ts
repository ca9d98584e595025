/** What a fuzz run of a format reader found; the fuzz tests fail on any failure or accepted-but-invalid file. */
export interface FuzzReport {
  parses: number;
  accepted: number;
  rejected: number;
  /** Crashes (errors other than BAD_USER_INPUT), slow parses, reparses that differ, must-accept mutations refused. */
  failures: string[];
  /** Accepted files the independent judge finds invalid. */
  acceptedInvalid: string[];
  byKind: Record<string, { accepted: number; rejected: number }>;
  slowestMs: number;
}

/** A single parse slower than this counts as a failure (a hang, or work that grows too fast). */
export const SLOW_PARSE_MS = 1000;
