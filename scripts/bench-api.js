// `npm run bench:api`: runs bench/apiBench.ts from sources (compiled by swc, as the tests are).
require("./ts-hook");
require("../bench/apiBench.ts");
