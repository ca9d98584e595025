#!/usr/bin/env node
// Merge search benchmark: runs bench/searchBench.ts from source through the same swc require
// hook the worker threads use. Env: see bench/searchBench.ts (BENCH_WORKERS, BENCH_NAIVE, …).
require("./as-job-process")();
require("./ts-hook");
require("../bench/searchBench.ts");
