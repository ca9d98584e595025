// `npm run bench:candidates`: runs bench/candidatesBench.ts from sources (compiled by swc, as the
// tests are). See that file for the options (--postgres URL, --models N, --anchors N, --explain).
require("./ts-hook");
require("../bench/candidatesBench.ts");
