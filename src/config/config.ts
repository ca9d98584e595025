import * as path from "node:path";

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
  logLevel: string;
  /** Folders whose files registerModel may import by path (empty: path imports are refused). */
  importRoots: string[];
  maxUploadBytes: number;
  /** Worker threads for parsing, merging and evaluation in this process. */
  workers: number;
  /** Set: the distributed shape (BullMQ queues on Redis, `layermerge worker` processes run jobs). */
  redisUrl: string | null;
  queuePrefix: string;
  jobAttempts: number;
  jobLockMs: number;
  /** Where artifacts live: a local folder (default) or `s3://bucket/prefix`. */
  artifacts: string;
  /** A worker's /healthz and /metrics port (workers serve no API); null: none. */
  metricsPort: number | null;
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
    logLevel: env.LOG_LEVEL || "info",
    importRoots: (env.LAYERMERGE_IMPORT_ROOTS || "")
      .split(path.delimiter)
      .map((p) => p.trim())
      .filter(Boolean)
      .map((p) => path.resolve(cwd, p)),
    maxUploadBytes: integer(env, "LAYERMERGE_MAX_UPLOAD_BYTES", 8 * 1024 ** 3, 1, Number.MAX_SAFE_INTEGER),
    workers: integer(env, "LAYERMERGE_WORKERS", 1, 1, 64),
    redisUrl: redisUrl(env.REDIS_URL),
    queuePrefix: queuePrefix(env.LAYERMERGE_QUEUE_PREFIX),
    jobAttempts: integer(env, "LAYERMERGE_JOB_ATTEMPTS", 3, 1, 100),
    jobLockMs: integer(env, "LAYERMERGE_JOB_LOCK_MS", 30_000, 500, 3_600_000),
    artifacts: artifactsLocation(env.LAYERMERGE_ARTIFACTS, dataDir),
    metricsPort: env.LAYERMERGE_METRICS_PORT ? integer(env, "LAYERMERGE_METRICS_PORT", 0, 0, 65535) : null,
    reconcileMs: integer(env, "LAYERMERGE_RECONCILE_MS", 30_000, 100, 3_600_000),
  };
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

/** Hides a password in a URL before it is printed. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@]*@/, "//$1:***@");
}
