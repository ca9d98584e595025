#!/usr/bin/env node
// Probability statistics micro benchmark: runs bench/probabilityBench.ts from source through the
// swc require hook. Env: see bench/probabilityBench.ts.
require("./ts-hook");
require("../bench/probabilityBench.ts");
