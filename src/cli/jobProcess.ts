// The job-runner child process `layermerge serve` starts (LAYERMERGE_JOB_PROCESS=child); not a command.
import { startJobProcess } from "../main";

startJobProcess().catch((error) => {
  console.error(`layermerge job runner: ${(error as Error).stack ?? error}`);
  process.exit(1);
});
