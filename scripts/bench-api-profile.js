// `npm run bench:api:profile -- [query-index] [seconds]`: runs bench/apiProfile.ts from sources.
require("./ts-hook");
require("../bench/apiProfile.ts");
