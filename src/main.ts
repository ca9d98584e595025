import "reflect-metadata";
import { Config, loadConfig, redact } from "./config/config";
import { openDatabase } from "./persistence/database";
import { createInfrastructure, createServices } from "./services/services";
import { startServer } from "./http/server";
import { createLogger } from "./logging";

/** The one place that wires configuration, persistence, services and the HTTP server. */
export async function startApp(config: Config = loadConfig()) {
  const logger = createLogger(config.logLevel);
  const database = await openDatabase(config.databaseUrl);
  const services = createServices(config, createInfrastructure(config, database), logger);
  await services.runner.start();
  const server = await startServer(config, services, logger);
  logger.info({ url: server.url, database: redact(config.databaseUrl), auth: config.auth }, "layermerge is serving");
  return {
    config,
    logger,
    services,
    server,
    async stop() {
      await server.stop();
      await services.runner.stop();
      await services.pool.close();
      await database.close();
    },
  };
}
