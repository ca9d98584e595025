import type { Database } from "../persistence/database";
import { BackboneService } from "./backboneService";
import { DatasetService } from "./datasetService";
import { LineageService } from "./lineageService";
import { createLoaders } from "./loaders";
import { ModelService } from "./modelService";
import { TaskService } from "./taskService";
import { TokenService } from "./tokenService";

/** Every use case, wired to one database. Built once per process in `main`. */
export function createServices(database: Database) {
  const { prisma: db, provider } = database;
  return {
    database,
    tasks: new TaskService(db),
    datasets: new DatasetService(db, provider),
    backbones: new BackboneService(db),
    models: new ModelService(db, provider),
    lineage: new LineageService(db),
    tokens: new TokenService(db),
    createLoaders: () => createLoaders(db),
  };
}

export type Services = ReturnType<typeof createServices>;
