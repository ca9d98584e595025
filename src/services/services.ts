import type { Config } from "../config/config";
import type { Database } from "../persistence/database";
import type { ArtifactStore } from "../storage/artifactStore";
import { FsArtifactStore } from "../storage/fsArtifactStore";
import { ThreadPool } from "../threads/threadPool";
import { BackboneService } from "./backboneService";
import { CandidateService } from "./candidateService";
import { DatasetService } from "./datasetService";
import { LineageService } from "./lineageService";
import { SimilarityService } from "./similarityService";
import { createLoaders } from "./loaders";
import { ModelService } from "./modelService";
import { ModelReads } from "./modelReads";
import { RegistrationService } from "./registrationService";
import { StructureCatalog } from "./structureCatalog";
import { StructureService } from "./structureService";
import { TaskService } from "./taskService";
import { TokenService } from "./tokenService";
import { ArtifactService } from "./artifactService";
import { MergeService } from "./mergeService";
import { MergeRecipeService } from "./mergeRecipeService";
import { MergeSearchService } from "./mergeSearchService";
import { EvaluationService } from "./evaluationService";
import { JobService } from "./jobService";
import { EmbeddedJobRunner } from "../jobs/embeddedJobRunner";
import { ChildJobRunner, type ChildRunnerOptions } from "../jobs/childJobRunner";
import type { JobRunner } from "../jobs/jobRunner";
import { BullJobQueue, type JoinHint } from "../jobs/bullmq";
import { queueWorkerName, workerName } from "../jobs/processIdentity";
import { JobEvents } from "../jobs/jobEvents";
import type { JobHandlers } from "../jobs/jobTypes";
import type { Logger } from "../logging";
import { Metrics } from "../metrics";
import IORedis from "ioredis";
import { OutageLog, databaseDependency } from "../outage";
import { redisOptions } from "../jobs/redisConnection";
import { sql } from "../persistence/directSql";

/** How long a join hint waits before it is offered again when a process already in the search took it. */
const REHINT_MS = 1000;

export interface Infrastructure {
  database: Database;
  store: ArtifactStore;
  pool: ThreadPool;
}

/** The infrastructure a process needs, chosen by configuration. */
export async function createInfrastructure(config: Config, database: Database): Promise<Infrastructure> {
  return {
    database,
    store: await createStore(config),
    // Each job takes one thread at a time, except a merge search, which scores searchThreads
    // candidates at once.
    pool: new ThreadPool(config.jobConcurrency * config.searchThreads),
  };
}

async function createStore(config: Config): Promise<ArtifactStore> {
  if (config.artifacts.startsWith("s3://")) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createArtifactStore } = require("../storage/createArtifactStore") as { createArtifactStore(c: Config): ArtifactStore | Promise<ArtifactStore> };
    return createArtifactStore(config);
  }
  return new FsArtifactStore(config.artifacts);
}

export interface ServiceOptions {
  /**
   * Embedded shape: run jobs in a job-runner child process started from this script (the API
   * process), instead of in this process.
   */
  jobProcess?: Pick<ChildRunnerOptions, "entry" | "execArgv" | "env">;
  /** Where this process's job durations go instead of its own /metrics (a job-runner child sends them to its API). */
  observeJobs?: (kind: string, end: string, seconds: number) => void;
}

/**
 * Every use case, wired to one set of infrastructure. Built once per process in `main`.
 * Jobs run in this process or a job-runner child of it (embedded, no REDIS_URL), or are queued
 * on Redis for `layermerge worker` processes (distributed).
 */
export function createServices(config: Config, infra: Infrastructure, logger: Logger, options: ServiceOptions = {}) {
  const { prisma: db, provider } = infra.database;
  const catalog = new StructureCatalog(db);
  const reads = new ModelReads(infra.database.direct);
  const models = new ModelService(db, provider, reads);
  const events = new JobEvents();
  let runner: JobRunner | undefined;
  const jobRunner = () => {
    if (!runner) throw new Error("the job runner is not ready");
    return runner;
  };
  const artifacts = new ArtifactService(db, infra.database.direct, infra.store, config.uploadTtlMs, provider, logger);
  const merges = new MergeService(db, infra.store, infra.pool, catalog, models, jobRunner, { artifacts: config.artifacts, dataDir: config.dataDir, env: config.storeEnv }, artifacts);
  const lineage = new LineageService(db, provider, reads);
  const similarity = new SimilarityService(db, infra.store, infra.pool, catalog, lineage, logger);
  const evaluations = new EvaluationService(db, infra.store, infra.pool, jobRunner, config.datasetRoots, reads);
  merges.evaluate = (modelId, datasetId) => evaluations.start({ modelId, datasetId });
  const searches = new MergeSearchService(db, infra.database.direct, infra.store, infra.pool, catalog, merges, jobRunner, config.searchThreads, config.datasetRoots, {
    worker: config.redisUrl ? queueWorkerName() : workerName(),
    leaseMs: config.jobLockMs,
  });
  const handlers: JobHandlers = {
    MERGE: (payload, ctx) => merges.run(payload, ctx),
    EVALUATE: (payload, ctx) => evaluations.run(payload, ctx),
    MERGE_SEARCH: (payload, ctx) => searches.run(payload, ctx),
    discard: { MERGE_SEARCH: (payload) => searches.discard(payload.searchId) },
  };
  const metrics = new Metrics(db);
  const observe = (kind: string, end: string, seconds: number) => metrics.jobDuration.observe({ kind, status: end }, seconds);
  // One outage log per dependency and process: however many connections fail, an outage is
  // one warning and its end one info line.
  const outages = {
    database: new OutageLog(logger, databaseDependency(config.databaseUrl), config.databaseUrl),
    redis: new OutageLog(logger, "Redis", config.redisUrl ?? "redis://"),
  };
  runner = config.redisUrl
    ? new BullJobQueue(db, events, logger, outages, { redisUrl: config.redisUrl, prefix: config.queuePrefix, attempts: config.jobAttempts, lockMs: config.jobLockMs, reconcileMs: config.reconcileMs })
    : options.jobProcess
      ? new ChildJobRunner(db, events, logger, { ...options.jobProcess, config, observe })
      : new EmbeddedJobRunner(db, handlers, events, logger, { concurrency: config.jobConcurrency, lockMs: config.jobLockMs, attempts: config.jobAttempts, observe: options.observeJobs ?? observe });
  const queue = runner instanceof BullJobQueue ? runner : null;
  if (queue) searches.hints = (searchId, jobId, delayMs) => queue.hintJoin(searchId, jobId, delayMs);
  /** A worker's answer to a join hint (main wires it into the BullMQ worker). */
  const joinSearch = async (hint: JoinHint, signal: AbortSignal) => {
    // Taken by a process already in the search: handed on, later, for a worker that is not.
    if ((await searches.join(hint.searchId, signal)) === "already") await queue?.hintJoin(hint.searchId, hint.jobId, REHINT_MS);
  };
  const redis = config.redisUrl ? new IORedis({ ...redisOptions(config.redisUrl), lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: () => null }) : null;
  // Its failures are what /healthz reports; without a listener ioredis would print them.
  redis?.on("error", () => undefined);
  // The store's check (a folder access on the thread pool, or a HEAD request to the bucket) is
  // shared for a second: orchestrators probe /healthz often, and each fresh check is one more
  // turn of the event loop that a probe waits for behind a large request.
  const storeCheck = sharedFor(1000, () => infra.store.check());
  /** Reachability of everything this process depends on, for /healthz. */
  const health = async () => {
    // The reason stays in the log: its message may name server paths or hosts (anyone may ask).
    const check = async (dependency: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
        return "ok";
      } catch (error) {
        logger.warn({ err: error, dependency }, "health check: a dependency is unreachable");
        return "unreachable";
      }
    };
    // Side by side, not one after another: each check waits its own turns of the event loop,
    // and /healthz should cost as few of them as possible while a large request is being served.
    // The database is asked through the direct connection (one round trip, no query engine).
    const [database, artifacts, redisState] = await Promise.all([
      check("database", () => infra.database.direct.query(sql`SELECT 1`)),
      check("artifacts", storeCheck),
      redis
        ? check("redis", async () => {
            if (redis.status === "wait" || redis.status === "end") await redis.connect();
            await redis.ping();
          })
        : null,
    ]);
    const result: Record<string, string> = { database, artifacts };
    if (redisState) result.redis = redisState;
    return result;
  };
  return {
    ...infra,
    config,
    logger,
    catalog,
    runner,
    handlers,
    joinSearch,
    events,
    metrics,
    observe,
    outages,
    health,
    async closeHealth() {
      redis?.disconnect();
    },
    merges,
    recipes: new MergeRecipeService(db, merges, infra.pool),
    searches,
    evaluations,
    jobs: new JobService(db, jobRunner, events),
    tasks: new TaskService(db),
    datasets: new DatasetService(db, provider, infra.pool, config.datasetRoots),
    backbones: new BackboneService(db),
    models,
    lineage,
    similarity,
    tokens: new TokenService(db),
    structures: new StructureService(db, catalog, provider),
    candidates: new CandidateService(infra.database.direct, reads, catalog, similarity),
    artifacts,
    registration: new RegistrationService(db, infra.store, infra.pool, catalog, models, config, infra.database.direct, artifacts),
    createLoaders: () => createLoaders(db, reads),
    /** Changes whenever anything commits to the database (see Database.dataVersion). */
    dataVersion: () => infra.database.dataVersion(),
  };
}

export type Services = ReturnType<typeof createServices>;

/** `fn`'s outcome, reused by callers for `ms` after it settles (and shared while in flight). */
function sharedFor(ms: number, fn: () => Promise<unknown>): () => Promise<unknown> {
  let last: { at: number; outcome: Promise<unknown> } | null = null;
  return () => {
    const now = Date.now();
    if (last && now - last.at < ms) return last.outcome;
    const outcome = fn();
    last = { at: now, outcome };
    // Timed from when it settles, so a slow check is not repeated at once.
    outcome.then(
      () => last && last.outcome === outcome && (last.at = Date.now()),
      () => last && last.outcome === outcome && (last.at = Date.now()),
    );
    return outcome;
  };
}
