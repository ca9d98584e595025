#!/usr/bin/env node
// Neighbour-core benchmark: runs bench/neighbourBench.ts from source through the swc require hook,
// with the job processes' allocator settings (as the search and evaluation benchmarks).
require("./as-job-process")();
require("./ts-hook");
require("../bench/neighbourBench.ts");
