import { loadConfig } from "../config/config";
import { startWorker } from "../main";

/** Runs queued jobs from Redis until SIGINT/SIGTERM (distributed shape). */
export async function workerCommand(): Promise<number> {
  const config = loadConfig();
  const worker = await startWorker(config);
  const stopped = new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  console.error(`layermerge: worker ${worker.worker.name} running jobs from ${config.queuePrefix} (${config.jobConcurrency} at a time)`);
  await stopped;
  await worker.stop();
  return 0;
}
