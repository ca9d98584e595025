import * as net from "node:net";
import { availableParallelism } from "node:os";
import * as path from "node:path";
import { parseDuration } from "../core/duration";

export type AuthMode = "off" | "writes" | "all";

export interface Config {
  databaseUrl: string;
  databaseProvider: "sqlite" | "postgres";
  host: string;
  port: number;
  dataDir: string;
  auth: AuthMode;
  corsOrigins: string[];
  maxQueryDepth: number;
  maxQueryComplexity: number;
  /**
   * Read-only query responses kept per API process, reused while the database is unchanged
   * (LAYERMERGE_RESPONSE_CACHE_ENTRIES; default 256; 0 turns the cache off).
   */
  responseCacheEntries: number;
  logLevel: string;
  /** Folders whose files registerModel may import by path (empty: path imports are refused). */
  importRoots: string[];
  /**
   * Folders dataset locations must lie under (createDataset, updateDataset, evaluation):
   * LAYERMERGE_DATASET_ROOTS, by default `<dataDir>/datasets` plus the import roots.
   */
  datasetRoots: string[];
  /** LAYERMERGE_ALLOW_OPEN=1: serve with auth off on a non-loopback HOST (with a warning). */
  allowOpen: boolean;
  maxUploadBytes: number;
  /**
   * Jobs this process runs at once (an API's embedded runner or a `layermerge worker`), and the
   * threads of its pool for parsing, merging and evaluation: LAYERMERGE_JOB_CONCURRENCY (the
   * older LAYERMERGE_WORKERS is still read).
   */
  jobConcurrency: number;
  /**
   * Candidates a merge search scores at once in a process (its candidate threads). Default: the
   * cores shared among the jobs that may run at once, ⌊cores ÷ jobConcurrency⌋, at least 1.
   */
  searchThreads: number;
  /**
   * Embedded shape: where `layermerge serve` runs its jobs' orchestration (claiming, progress,
   * output adoption, row writes). `child` (default): a job-runner child process of its own, so
   * jobs never wait behind request handling on the API's event loop; `inline`: the API process
   * itself (LAYERMERGE_JOB_PROCESS).
   */
  jobProcess: "child" | "inline";
  /**
   * How many nice steps the job-runner child runs ahead of the API process (LAYERMERGE_JOB_PRIORITY,
   * default 5: API at nice 0, runner at −5). Raising a priority needs CAP_SYS_NICE (or root);
   * without it the runner warns and runs at the API's priority. 0: the same priority.
   */
  jobPriority: number;
  /** Set: the distributed shape (BullMQ queues on Redis, `layermerge worker` processes run jobs). */
  redisUrl: string | null;
  queuePrefix: string;
  jobAttempts: number;
  jobLockMs: number;
  /** Where artifacts live: a local folder (default) or `s3://bucket/prefix`. */
  artifacts: string;
  /** A worker's /healthz and /metrics port (workers serve no API); null: none. */
  metricsPort: number | null;
  /**
   * The object store's variables as this process's environment gives them (S3_*, AWS_*,
   * LAYERMERGE_CACHE_BYTES): a merge thread builds its own store client from them.
   */
  storeEnv: Record<string, string>;
  /**
   * How long an uploaded blob that no Artifact row references may stay in the store before the
   * sweep deletes it (LAYERMERGE_UPLOAD_TTL; default 24 h). Also the age after which temporary
   * uploads of dead attempts are removed.
   */
  uploadTtlMs: number;
  /** When set, GET /metrics (API and a worker's metrics port) needs `Authorization: Bearer <it>`. */
  metricsToken: string | null;
  /** Error responses may carry stack traces (never in production: they show server paths). */
  debug: boolean;
  /** How often each process brings the job queue in line with the database (distributed shape). */
  reconcileMs: number;
}

/** Raised for invalid configuration; `main` prints its message as one line and exits. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/**
 * Reads configuration from the environment. Every variable is documented in the README's
 * "Configuration" table; keep the two in step.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const dataDir = path.resolve(cwd, env.LAYERMERGE_DATA_DIR || "data");
  const databaseUrl = env.DATABASE_URL || `file:${path.join(dataDir, "layermerge.db")}`;
  const databaseProvider = providerOf(databaseUrl);

  const auth = (env.LAYERMERGE_AUTH || "off") as AuthMode;
  if (!["off", "writes", "all"].includes(auth)) {
    throw new ConfigError(`LAYERMERGE_AUTH must be off, writes or all (got ${JSON.stringify(env.LAYERMERGE_AUTH)})`);
  }
  // With auth off the API is open, so it listens on loopback only unless HOST says otherwise.
  const host = env.HOST || "127.0.0.1";
  const port = integer(env, "PORT", 4000, 0, 65535);

  const corsOrigins = (env.LAYERMERGE_CORS_ORIGINS || "")
    .split(",")
    .map((o) => o.trim())
    .filter(Boolean);
  for (const origin of corsOrigins) {
    if (origin !== "*" && !/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new ConfigError(`LAYERMERGE_CORS_ORIGINS: ${JSON.stringify(origin)} is not an origin like https://dash.example.org`);
    }
  }

  const importRoots = roots(env.LAYERMERGE_IMPORT_ROOTS, cwd);
  const datasetRoots = env.LAYERMERGE_DATASET_ROOTS ? roots(env.LAYERMERGE_DATASET_ROOTS, cwd) : [path.join(dataDir, "datasets"), ...importRoots];
  if (env.LAYERMERGE_DATASET_ROOTS && datasetRoots.length === 0) {
    throw new ConfigError(`LAYERMERGE_DATASET_ROOTS must name at least one folder (got ${JSON.stringify(env.LAYERMERGE_DATASET_ROOTS)}); unset it for the default`);
  }
  const allowOpen = env.LAYERMERGE_ALLOW_OPEN ?? "";
  if (!["", "0", "1"].includes(allowOpen)) throw new ConfigError(`LAYERMERGE_ALLOW_OPEN must be 1 or 0 (got ${JSON.stringify(allowOpen)})`);

  return {
    databaseUrl,
    databaseProvider,
    host,
    port,
    dataDir,
    auth,
    corsOrigins,
    maxQueryDepth: integer(env, "LAYERMERGE_MAX_QUERY_DEPTH", 12, 1, 1000),
    maxQueryComplexity: integer(env, "LAYERMERGE_MAX_QUERY_COMPLEXITY", 5000, 1, 10_000_000),
    responseCacheEntries: integer(env, "LAYERMERGE_RESPONSE_CACHE_ENTRIES", 256, 0, 100_000),
    logLevel: env.LOG_LEVEL || "info",
    importRoots,
    datasetRoots,
    allowOpen: allowOpen === "1",
    maxUploadBytes: integer(env, "LAYERMERGE_MAX_UPLOAD_BYTES", 8 * 1024 ** 3, 1, Number.MAX_SAFE_INTEGER),
    jobConcurrency: jobConcurrency(env),
    searchThreads: integer(env, "LAYERMERGE_SEARCH_THREADS", Math.max(1, Math.floor(availableParallelism() / jobConcurrency(env))), 1, 64),
    jobProcess: jobProcess(env.LAYERMERGE_JOB_PROCESS),
    jobPriority: integer(env, "LAYERMERGE_JOB_PRIORITY", 5, 0, 39),
    redisUrl: redisUrl(env.REDIS_URL),
    queuePrefix: queuePrefix(env.LAYERMERGE_QUEUE_PREFIX),
    jobAttempts: integer(env, "LAYERMERGE_JOB_ATTEMPTS", 3, 1, 100),
    jobLockMs: integer(env, "LAYERMERGE_JOB_LOCK_MS", 30_000, 500, 3_600_000),
    artifacts: artifactsLocation(env.LAYERMERGE_ARTIFACTS, dataDir),
    metricsPort: env.LAYERMERGE_METRICS_PORT ? integer(env, "LAYERMERGE_METRICS_PORT", 0, 0, 65535) : null,
    storeEnv: storeEnv(env),
    uploadTtlMs: uploadTtl(env.LAYERMERGE_UPLOAD_TTL),
    metricsToken: metricsToken(env.LAYERMERGE_METRICS_TOKEN),
    debug: flag(env, "LAYERMERGE_DEBUG"),
    reconcileMs: integer(env, "LAYERMERGE_RECONCILE_MS", 30_000, 100, 3_600_000),
  };
}

/**
 * LAYERMERGE_JOB_CONCURRENCY, or the name it had before (LAYERMERGE_WORKERS, when "worker" also
 * meant a thread); both set to different values is refused rather than one silently winning.
 */
function jobConcurrency(env: NodeJS.ProcessEnv): number {
  const current = env.LAYERMERGE_JOB_CONCURRENCY;
  const old = env.LAYERMERGE_WORKERS;
  const given = (v: string | undefined) => v !== undefined && v !== "";
  if (given(current) && given(old) && current !== old) {
    throw new ConfigError(`LAYERMERGE_JOB_CONCURRENCY (${JSON.stringify(current)}) and its old name LAYERMERGE_WORKERS (${JSON.stringify(old)}) disagree; set only LAYERMERGE_JOB_CONCURRENCY`);
  }
  return given(current) || !given(old) ? integer(env, "LAYERMERGE_JOB_CONCURRENCY", 1, 1, 64) : integer(env, "LAYERMERGE_WORKERS", 1, 1, 64);
}

const STORE_VARIABLES = ["S3_ENDPOINT", "S3_REGION", "S3_FORCE_PATH_STYLE", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "LAYERMERGE_CACHE_BYTES"];

function storeEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(STORE_VARIABLES.filter((k) => env[k] !== undefined).map((k) => [k, env[k] as string]));
}

/** A `:`-separated list of folders, each resolved against the working directory. */
function roots(raw: string | undefined, cwd: string): string[] {
  return (raw || "")
    .split(path.delimiter)
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => path.resolve(cwd, p));
}

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and `localhost`; any other name or address may be reachable from elsewhere. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase();
  if (h === "localhost") return true;
  if (net.isIPv4(h)) return h.split(".")[0] === "127";
  if (net.isIPv6(h)) {
    const normalised = new URL(`http://[${h}]/`).hostname; // [::1], [::ffff:7f00:1]
    if (normalised === "[::1]") return true;
    const mapped = /^\[::ffff:([0-9a-f]{1,4}):[0-9a-f]{1,4}\]$/.exec(normalised);
    return mapped !== null && parseInt(mapped[1]!, 16) >> 8 === 127;
  }
  return false;
}

/**
 * Whether the API may serve with this configuration: auth off answers anyone who reaches the
 * port, so off with a HOST other than loopback is refused unless LAYERMERGE_ALLOW_OPEN=1 says it
 * is meant (then `warning` is logged at start).
 */
export function exposure(config: Pick<Config, "host" | "auth" | "allowOpen">): { refusal?: string; warning?: string } {
  if (config.auth !== "off" || isLoopbackHost(config.host)) return {};
  if (!config.allowOpen) {
    return {
      refusal: `refusing to serve without authentication on ${config.host} (HOST is not a loopback address and LAYERMERGE_AUTH is off): set LAYERMERGE_AUTH=writes or all, listen on HOST=127.0.0.1, or set LAYERMERGE_ALLOW_OPEN=1 if anyone who reaches the port may write`,
    };
  }
  return { warning: `serving without authentication on ${config.host} (LAYERMERGE_AUTH=off, LAYERMERGE_ALLOW_OPEN=1): anyone who reaches the port can change the registry` };
}

function uploadTtl(raw: string | undefined): number {
  if (raw === undefined || raw === "") return 24 * 3_600_000;
  try {
    return parseDuration(raw, "LAYERMERGE_UPLOAD_TTL");
  } catch {
    throw new ConfigError(`LAYERMERGE_UPLOAD_TTL must be a duration like 24h, 30m or 2s (got ${JSON.stringify(raw)})`);
  }
}

/** A bearer secret: long enough not to be guessed, and only characters a header carries as they are. */
function metricsToken(raw: string | undefined): string | null {
  if (raw === undefined || raw === "") return null;
  if (!/^[\x21-\x7e]{16,}$/.test(raw)) throw new ConfigError("LAYERMERGE_METRICS_TOKEN must be at least 16 printable ASCII characters without spaces");
  return raw;
}

function jobProcess(raw: string | undefined): "child" | "inline" {
  if (raw === undefined || raw === "") return "child";
  if (raw !== "child" && raw !== "inline") throw new ConfigError(`LAYERMERGE_JOB_PROCESS must be child or inline (got ${JSON.stringify(raw)})`);
  return raw;
}

function redisUrl(raw: string | undefined): string | null {
  if (!raw) return null;
  if (!/^rediss?:\/\/[^\s]+$/.test(raw)) throw new ConfigError(`REDIS_URL must look like redis://host:6379 (got ${JSON.stringify(redact(raw))})`);
  return raw;
}

function queuePrefix(raw: string | undefined): string {
  const prefix = raw || "layermerge";
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) throw new ConfigError(`LAYERMERGE_QUEUE_PREFIX must be 1–64 letters, digits, '.', '_' or '-' (got ${JSON.stringify(raw)})`);
  return prefix;
}

function artifactsLocation(raw: string | undefined, dataDir: string): string {
  if (!raw) return path.join(dataDir, "artifacts");
  if (raw.startsWith("s3://")) {
    if (!/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(raw)) throw new ConfigError(`LAYERMERGE_ARTIFACTS: ${JSON.stringify(raw)} is not s3://bucket/prefix`);
    return raw;
  }
  return path.resolve(raw);
}

export function providerOf(databaseUrl: string): "sqlite" | "postgres" {
  if (databaseUrl.startsWith("file:")) return "sqlite";
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) return "postgres";
  throw new ConfigError(`DATABASE_URL must start with file: (SQLite) or postgres:// (PostgreSQL); got ${JSON.stringify(redact(databaseUrl))}`);
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`);
  }
  return value;
}

function flag(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "" || raw === "0") return false;
  if (raw === "1") return true;
  throw new ConfigError(`${name} must be 1 or 0 (got ${JSON.stringify(raw)})`);
}

/** Hides a password in a URL before it is printed. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@]*@/, "//$1:***@");
}
