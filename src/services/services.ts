import type { Config } from "../config/config";
import type { Database } from "../persistence/database";
import type { ArtifactStore } from "../storage/artifactStore";
import { FsArtifactStore } from "../storage/fsArtifactStore";
import { ThreadPool } from "../workers/threadPool";
import { BackboneService } from "./backboneService";
import { CandidateService } from "./candidateService";
import { DatasetService } from "./datasetService";
import { LineageService } from "./lineageService";
import { createLoaders } from "./loaders";
import { ModelService } from "./modelService";
import { RegistrationService } from "./registrationService";
import { StructureCatalog } from "./structureCatalog";
import { StructureService } from "./structureService";
import { TaskService } from "./taskService";
import { TokenService } from "./tokenService";
import { MergeService } from "./mergeService";
import { EvaluationService } from "./evaluationService";
import { JobService } from "./jobService";
import { EmbeddedJobRunner, JobRunner } from "../jobs/embeddedJobRunner";
import { BullJobQueue } from "../jobs/bullmq";
import { JobEvents } from "../jobs/jobEvents";
import type { JobHandlers } from "../jobs/jobTypes";
import type { Logger } from "../logging";
import { Metrics } from "../metrics";
import IORedis from "ioredis";

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
    pool: new ThreadPool(config.workers),
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

/**
 * Every use case, wired to one set of infrastructure. Built once per process in `main`.
 * Jobs run in this process (embedded, no REDIS_URL) or are queued on Redis for `layermerge
 * worker` processes (distributed).
 */
export function createServices(config: Config, infra: Infrastructure, logger: Logger) {
  const { prisma: db, provider } = infra.database;
  const catalog = new StructureCatalog(db);
  const models = new ModelService(db, provider);
  const events = new JobEvents();
  let runner: JobRunner | undefined;
  const jobRunner = () => {
    if (!runner) throw new Error("the job runner is not ready");
    return runner;
  };
  const merges = new MergeService(db, infra.store, infra.pool, catalog, models, jobRunner, { artifacts: config.artifacts, dataDir: config.dataDir });
  const evaluations = new EvaluationService(db, infra.store, infra.pool, jobRunner);
  const handlers: JobHandlers = {
    MERGE: (payload, ctx) => merges.run(payload, ctx),
    EVALUATE: (payload, ctx) => evaluations.run(payload, ctx),
  };
  const metrics = new Metrics(db);
  const observe = (kind: string, end: string, seconds: number) => metrics.jobDuration.observe({ kind, status: end }, seconds);
  runner = config.redisUrl
    ? new BullJobQueue(db, events, { redisUrl: config.redisUrl, prefix: config.queuePrefix, attempts: config.jobAttempts, lockMs: config.jobLockMs })
    : new EmbeddedJobRunner(db, handlers, events, logger, { concurrency: config.workers, lockMs: config.jobLockMs, attempts: config.jobAttempts, observe });
  const redis = config.redisUrl ? new IORedis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false }) : null;
  /** Reachability of everything this process depends on, for /healthz. */
  const health = async () => {
    const check = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
        return "ok";
      } catch (error) {
        return `unreachable: ${(error as Error).message}`;
      }
    };
    const result: Record<string, string> = {
      database: await check(() => db.$queryRawUnsafe("SELECT 1")),
      artifacts: await check(() => infra.store.check()),
    };
    if (redis) {
      result.redis = await check(async () => {
        if (redis.status === "wait" || redis.status === "end") await redis.connect();
        await redis.ping();
      });
    }
    return result;
  };
  return {
    ...infra,
    config,
    logger,
    catalog,
    runner,
    handlers,
    events,
    metrics,
    observe,
    health,
    async closeHealth() {
      redis?.disconnect();
    },
    merges,
    evaluations,
    jobs: new JobService(db, jobRunner, events),
    tasks: new TaskService(db),
    datasets: new DatasetService(db, provider, infra.pool),
    backbones: new BackboneService(db),
    models,
    lineage: new LineageService(db, provider),
    tokens: new TokenService(db),
    structures: new StructureService(db, catalog, provider),
    candidates: new CandidateService(db, catalog),
    registration: new RegistrationService(db, infra.store, infra.pool, catalog, models, config, infra.database.direct),
    createLoaders: () => createLoaders(db),
  };
}

export type Services = ReturnType<typeof createServices>;
