// `npm run demo`: runs examples/demo/runDemo.ts from sources (compiled by swc, as the tests are).
require("./ts-hook");
require("../examples/demo/runDemo.ts");
