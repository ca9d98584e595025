// The job-runner child process `layermerge serve` starts (LAYERMERGE_JOB_PROCESS=child); not a command.
import { runJobProcess } from "../main";

runJobProcess().catch((error) => {
  console.error(`layermerge job runner: ${(error as Error).stack ?? error}`);
  process.exit(1);
});
