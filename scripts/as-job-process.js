// Benchmarks time what a job runner does, so they run as `layermerge serve` starts its job
// runner: with the job processes' allocator settings (src/config/allocatorTuning.ts), which glibc
// reads only when a process starts — this process is started again with them, once.
const { spawnSync } = require("node:child_process");

module.exports = function asJobProcess() {
  require("./ts-hook");
  const { withAllocatorTuning } = require("../src/config/allocatorTuning.ts");
  const env = withAllocatorTuning(process.env);
  if (env === process.env) return;
  const run = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: "inherit", env });
  process.exit(run.status ?? 1);
};
