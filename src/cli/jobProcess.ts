// The job-runner child process `layermerge serve` starts (LAYERMERGE_JOB_PROCESS=child); not a command.
import { runJobProcess } from "../main";
import { receiveConfig } from "../jobs/runnerChannel";

// It runs with the API's own resolved configuration, sent over IPC, not with what the
// environment says: a program may build its Config in code.
receiveConfig()
  .then(runJobProcess)
  .catch((error) => {
    console.error(`layermerge job runner: ${(error as Error).stack ?? error}`);
    process.exit(1);
  });
