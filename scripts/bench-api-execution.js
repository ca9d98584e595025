// `npm run bench:api:execution`: runs bench/apiExecution.ts from sources (compiled by swc, as the tests are).
require("./ts-hook");
require("../bench/apiExecution.ts");
