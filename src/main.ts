import "reflect-metadata";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Config, ConfigError, exposure, loadConfig, redact } from "./config/config";
import { withAllocatorTuning } from "./config/allocatorTuning";
import { openDatabase } from "./persistence/database";
import { createInfrastructure, createServices } from "./services/services";
import { startServer } from "./http/server";
import { createLogger } from "./logging";
import { connectRedisJobEvents } from "./jobs/redisJobEvents";
import { BullJobWorker } from "./jobs/bullmq";
import * as http from "node:http";
import { checkMetricsAuth } from "./http/metricsAuth";
import { checkRedis } from "./jobs/redisConnection";
import { UnreachableError, databaseDependency, reasonOf } from "./outage";
import { isDatabaseUnreachable } from "./persistence/databaseErrors";
import type { Services } from "./services/services";
import { EmbeddedJobRunner } from "./jobs/embeddedJobRunner";
import { receiveConfig, serveRunnerChannel, toApi } from "./jobs/runnerChannel";
import type { Logger } from "./logging";

/** A worker's /healthz and /metrics (LAYERMERGE_METRICS_PORT); workers serve no API. */
async function startMonitor(config: Config, services: Services): Promise<http.Server> {
  const server = http.createServer(async (req, res) => {
    if (req.url === "/metrics") {
      if (!checkMetricsAuth(config.metricsToken, req, res)) return;
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
 * Opens the database (applying migrations); when it cannot be reached, start-up fails with one
 * line naming it — PostgreSQL or SQLite — and its URL, password masked.
 */
async function openDatabaseOrExplain(databaseUrl: string, options?: { migrate?: boolean }) {
  try {
    return await openDatabase(databaseUrl, options);
  } catch (error) {
    const dependency = databaseDependency(databaseUrl);
    // SQLite is a file: "unreachable" is a file or folder that cannot be opened or created.
    const code = String((error as { code?: unknown }).code ?? "");
    const unopenable = dependency === "SQLite" && /^(E[A-Z]+|SQLITE_(CANTOPEN|READONLY|PERM|NOTADB))$/.test(code);
    if (isDatabaseUnreachable(error) || unopenable) throw new UnreachableError(dependency, databaseUrl, reasonOf(error));
    throw error;
  }
}

/**
 * The one place that wires configuration, persistence, services and the HTTP server (`serve`)
 * or a job worker (`worker`).
 */
export async function startApp(config: Config = loadConfig()) {
  const open = exposure(config);
  if (open.refusal) throw new ConfigError(open.refusal);
  const logger = createLogger(config.logLevel);
  if (open.warning) logger.warn({ host: config.host, auth: config.auth }, open.warning);
  const database = await openDatabaseOrExplain(config.databaseUrl);
  if (config.redisUrl) await checkRedis(config.redisUrl);
  const childRunner = !config.redisUrl && config.jobProcess === "child";
  // The job runner starts with the job processes' allocator settings (config/allocatorTuning):
  // each merge-search candidate's onnxruntime session reuses the last one's pages.
  const services = createServices(config, await createInfrastructure(config, database), logger, childRunner ? { jobProcess: { ...jobProcessEntry(), env: withAllocatorTuning(process.env) } } : {});
  const disconnectEvents = config.redisUrl ? await connectRedisJobEvents(services.events, config.redisUrl, `${config.queuePrefix}:job-events`, services.outages.redis) : null;
  await services.runner.start();
  const server = await startServer(config, services, logger);
  // Unregistered uploads are swept by API processes (workers only store merge outputs, which
  // they register themselves).
  services.artifacts.startSweeping();
  logger.info({ url: server.url, database: redact(config.databaseUrl), auth: config.auth, shape: config.redisUrl ? "distributed" : "embedded" }, "layermerge is serving");
  await sweepScratch(services);
  return {
    config,
    logger,
    services,
    server,
    async stop() {
      await services.artifacts.stopSweeping();
      await server.stop();
      await services.runner.stop();
      await disconnectEvents?.();
      await services.closeHealth();
      await services.similarity.stop();
      await services.pool.close();
      await database.close();
    },
  };
}

/** A `layermerge worker` process: runs queued merges and evaluations from Redis. */
export async function startWorker(config: Config = loadConfig()) {
  if (!config.redisUrl) throw new Error("layermerge worker needs REDIS_URL (without it, `layermerge serve` runs jobs itself)");
  const logger = createLogger(config.logLevel);
  const database = await openDatabaseOrExplain(config.databaseUrl);
  await checkRedis(config.redisUrl);
  const services = createServices(config, await createInfrastructure(config, database), logger);
  const disconnectEvents = await connectRedisJobEvents(services.events, config.redisUrl, `${config.queuePrefix}:job-events`, services.outages.redis);
  const worker = new BullJobWorker(database.prisma, services.handlers, services.events, logger, {
    redisUrl: config.redisUrl,
    prefix: config.queuePrefix,
    attempts: config.jobAttempts,
    lockMs: config.jobLockMs,
    reconcileMs: config.reconcileMs,
    concurrency: config.jobConcurrency,
  }, services.outages, services.observe, services.joinSearch);
  await worker.start();
  // Workers reconcile the queue with the database too (services.runner is the queue side), so
  // jobs are recovered even when no API process is running.
  await services.runner.start();
  const monitor = config.metricsPort != null ? await startMonitor(config, services) : null;
  await sweepScratch(services);
  const monitorAddress = monitor?.address();
  return {
    config,
    logger,
    services,
    worker,
    /** The port /healthz and /metrics listen on (LAYERMERGE_METRICS_PORT; 0 picks one), or null. */
    metricsPort: monitorAddress && typeof monitorAddress === "object" ? monitorAddress.port : null,
    async stop() {
      await services.runner.stop();
      await worker.stop();
      await new Promise<void>((resolve) => (monitor ? monitor.close(() => resolve()) : resolve()));
      await disconnectEvents();
      await services.closeHealth();
      await services.similarity.stop();
      await services.pool.close();
      await database.close();
    },
  };
}

/**
 * The job-runner child of `layermerge serve` (LAYERMERGE_JOB_PROCESS=child): an embedded runner
 * with its own event loop, database connection and thread pool, ahead of the API process in
 * scheduling priority, talking to the API over IPC (see ChildJobRunner). The API process applied
 * the migrations before starting it.
 */
/**
 * The job-runner child's start: it runs with the API's own resolved configuration, sent over IPC,
 * not with what the environment says (a program may build its Config in code).
 */
export async function startJobProcess(): Promise<void> {
  await runJobProcess((await receiveConfig()) as Config);
}

export async function runJobProcess(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel);
  // Before any thread starts: on Linux a thread's nice value is its own, inherited by the threads
  // it creates, so the pool's threads (where merges and evaluations compute) get it too.
  raisePriority(config.jobPriority, logger);
  const database = await openDatabaseOrExplain(config.databaseUrl, { migrate: false });
  const services = createServices(config, await createInfrastructure(config, database), logger, {
    observeJobs: (kind, end, seconds) => toApi({ type: "observe", kind, end, seconds }),
  });
  const runner = services.runner;
  if (!(runner instanceof EmbeddedJobRunner)) throw new Error("the job-runner process runs the embedded shape's jobs (no REDIS_URL)");
  serveRunnerChannel(runner, services.events, logger, async () => {
    await runner.stop();
    await services.similarity.stop();
    await services.pool.close();
    await database.close();
  });
  // Scratch of merges whose process died (a runner killed mid-merge) before taking their jobs over.
  await sweepScratch(services);
  await runner.start();
  logger.info({ pid: process.pid, nice: os.getPriority() }, "job runner started");
  toApi({ type: "ready" });
}

/** The job-runner child's script: compiled beside this file, or the TypeScript source with the swc hook (tests). */
function jobProcessEntry(): { entry: string; execArgv: string[] } {
  const compiled = path.join(__dirname, "cli", "jobProcess.js");
  if (path.extname(__filename) === ".js" && fs.existsSync(compiled)) return { entry: compiled, execArgv: [] };
  return { entry: path.join(__dirname, "cli", "jobProcess.ts"), execArgv: ["-r", path.resolve(__dirname, "..", "scripts", "ts-hook.js")] };
}

/** Lowers this thread's nice value by `steps` (within −20…19); without the right to, warns and keeps it. */
function raisePriority(steps: number, logger: Logger): void {
  const current = os.getPriority();
  const target = Math.max(-20, current - steps);
  if (target === current) return;
  try {
    os.setPriority(target);
  } catch (error) {
    logger.warn({ nice: current, wanted: target, reason: (error as Error).message }, "could not raise the job runner's scheduling priority (needs CAP_SYS_NICE or root); jobs run at the API's priority");
  }
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
