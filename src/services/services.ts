import * as path from "node:path";
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
import { JobEvents } from "../jobs/jobEvents";
import type { Logger } from "../logging";

export interface Infrastructure {
  database: Database;
  store: ArtifactStore;
  pool: ThreadPool;
}

/** The infrastructure a process needs, chosen by configuration. */
export function createInfrastructure(config: Config, database: Database): Infrastructure {
  return {
    database,
    store: new FsArtifactStore(path.join(config.dataDir, "artifacts")),
    pool: new ThreadPool(config.workers),
  };
}

/** Every use case, wired to one set of infrastructure. Built once per process in `main`. */
export function createServices(config: Config, infra: Infrastructure, logger: Logger) {
  const { prisma: db, provider } = infra.database;
  const catalog = new StructureCatalog(db);
  const models = new ModelService(db, provider);
  const events = new JobEvents();
  let runner: JobRunner | undefined;
  const jobRunner = () => {
    if (!runner) throw new Error("the job runner is not started");
    return runner;
  };
  const merges = new MergeService(db, infra.store, infra.pool, catalog, models, jobRunner);
  const evaluations = new EvaluationService(db, infra.store, infra.pool, jobRunner);
  runner = new EmbeddedJobRunner(
    db,
    { MERGE: (payload, ctx) => merges.run(payload, ctx), EVALUATE: (payload, ctx) => evaluations.run(payload, ctx) },
    events,
    logger,
    config.workers,
  );
  return {
    runner,
    events,
    merges,
    jobs: new JobService(db, jobRunner),
    ...infra,
    config,
    catalog,
    tasks: new TaskService(db),
    datasets: new DatasetService(db, provider, infra.pool),
    evaluations,
    backbones: new BackboneService(db),
    models,
    lineage: new LineageService(db),
    tokens: new TokenService(db),
    structures: new StructureService(db, catalog),
    candidates: new CandidateService(db, catalog),
    registration: new RegistrationService(db, infra.store, infra.pool, catalog, models, config),
    createLoaders: () => createLoaders(db),
  };
}

export type Services = ReturnType<typeof createServices>;
