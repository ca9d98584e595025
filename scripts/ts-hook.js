// Lets a thread started from TypeScript sources (tests, ts-node-style dev runs) require
// .ts files, compiling them with @swc/core as jest does. Compiled builds (dist/) never load it.
const fs = require("node:fs");
const swc = require("@swc/core");

require.extensions[".ts"] = function compileTs(module, filename) {
  const { code } = swc.transformSync(fs.readFileSync(filename, "utf8"), {
    filename,
    sourceMaps: "inline",
    jsc: {
      parser: { syntax: "typescript", decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
      target: "es2022",
    },
    module: { type: "commonjs" },
  });
  module._compile(code, filename);
};
