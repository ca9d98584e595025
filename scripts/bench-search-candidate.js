#!/usr/bin/env node
// A merge search candidate's fixed cost (merge + session creation), scratch file against memory:
// runs bench/searchCandidateCost.ts from source through the swc require hook.
require("./ts-hook");
require("../bench/searchCandidateCost.ts");
