#!/usr/bin/env node
// Evaluation benchmark: runs bench/evalBench.ts from source through the same
// swc require hook the pool and inference threads use. Env: BENCH_IMAGES, BENCH_ROUNDS, BENCH_THREADS, BENCH_BATCH, BENCH_SPIN, BENCH_KEEP.
require("./ts-hook");
require("../bench/evalBench.ts");
