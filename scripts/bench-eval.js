#!/usr/bin/env node
// Evaluation benchmark: runs bench/evalBench.ts from source through the same
// swc require hook the pool and inference threads use. Env: BENCH_IMAGES, BENCH_ROUNDS, BENCH_THREADS, BENCH_BATCH, BENCH_SPIN, BENCH_KEEP.
// `--profile`: bench/evalProfile.ts instead, the CPU of each stage per image (env BENCH_IMAGES, BENCH_THREADS).
require("./as-job-process")();
require("./ts-hook");
require(process.argv.includes("--profile") ? "../bench/evalProfile.ts" : "../bench/evalBench.ts");
