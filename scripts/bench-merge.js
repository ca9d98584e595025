// `npm run bench:merge`: runs bench/mergeBench.ts from sources (compiled by swc, as the tests
// are). See that file for the options (--formats, --repeats, --cold, --keep, --dir, --direct, --reparse, --no-jobs).
require("./ts-hook");
require("../bench/mergeBench.ts");
