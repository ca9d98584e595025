import "reflect-metadata";
import { Config, loadConfig, redact } from "./config/config";
import { openDatabase } from "./persistence/database";
import { createInfrastructure, createServices } from "./services/services";
import { startServer } from "./http/server";
import { createLogger } from "./logging";
import { connectRedisJobEvents } from "./jobs/redisJobEvents";
import { BullJobWorker } from "./jobs/bullmq";
import * as http from "node:http";
import type { Services } from "./services/services";

/** A worker's /healthz and /metrics (LAYERMERGE_METRICS_PORT); workers serve no API. */
async function startMonitor(config: Config, services: Services): Promise<http.Server> {
  const server = http.createServer(async (req, res) => {
    if (req.url === "/metrics") {
      res.setHeader("Content-Type", services.metrics.registry.contentType);
      res.end(await services.metrics.registry.metrics());
    } else if (req.url === "/healthz") {
      const health = await services.health();
      const ok = Object.values(health).every((v) => v === "ok");
      res.statusCode = ok ? 200 : 503;
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ status: ok ? "ok" : "unavailable", ...health }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(config.metricsPort!, config.host, () => resolve()));
  return server;
}

/**
 * The one place that wires configuration, persistence, services and the HTTP server (`serve`)
 * or a job worker (`worker`).
 */
export async function startApp(config: Config = loadConfig()) {
  const logger = createLogger(config.logLevel);
  const database = await openDatabase(config.databaseUrl);
  const services = createServices(config, await createInfrastructure(config, database), logger);
  const disconnectEvents = config.redisUrl ? await connectRedisJobEvents(services.events, config.redisUrl, `${config.queuePrefix}:job-events`) : null;
  await services.runner.start();
  const server = await startServer(config, services, logger);
  logger.info({ url: server.url, database: redact(config.databaseUrl), auth: config.auth, shape: config.redisUrl ? "distributed" : "embedded" }, "layermerge is serving");
  await sweepScratch(services);
  return {
    config,
    logger,
    services,
    server,
    async stop() {
      await server.stop();
      await services.runner.stop();
      await disconnectEvents?.();
      await services.closeHealth();
      await services.pool.close();
      await database.close();
    },
  };
}

/** A `layermerge worker` process: runs queued merges and evaluations from Redis. */
export async function startWorker(config: Config = loadConfig()) {
  if (!config.redisUrl) throw new Error("layermerge worker needs REDIS_URL (without it, `layermerge serve` runs jobs itself)");
  const logger = createLogger(config.logLevel);
  const database = await openDatabase(config.databaseUrl);
  const services = createServices(config, await createInfrastructure(config, database), logger);
  const disconnectEvents = await connectRedisJobEvents(services.events, config.redisUrl, `${config.queuePrefix}:job-events`);
  const worker = new BullJobWorker(database.prisma, services.handlers, services.events, logger, {
    redisUrl: config.redisUrl,
    prefix: config.queuePrefix,
    attempts: config.jobAttempts,
    lockMs: config.jobLockMs,
    concurrency: config.workers,
  }, services.observe);
  await worker.start();
  const monitor = config.metricsPort != null ? await startMonitor(config, services) : null;
  await sweepScratch(services);
  return {
    config,
    logger,
    services,
    worker,
    async stop() {
      await worker.stop();
      await new Promise<void>((resolve) => (monitor ? monitor.close(() => resolve()) : resolve()));
      await disconnectEvents();
      await services.closeHealth();
      await services.pool.close();
      await database.close();
    },
  };
}

/** At start: scratch folders of merges that died with their process on this host (a live run's folder is never touched, so the order with the runner does not matter). */
async function sweepScratch(services: Services): Promise<void> {
  try {
    const removed = await services.merges.sweepScratch();
    if (removed.length) services.logger.warn({ removed }, "removed scratch folders of merges whose process stopped");
  } catch (error) {
    services.logger.warn({ err: error }, "could not sweep the merge scratch folder");
  }
}
