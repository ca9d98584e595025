#!/usr/bin/env node
// The `layermerge` command: runs the compiled CLI (npm install builds dist/).
const path = require("node:path");
const fs = require("node:fs");
const entry = path.join(__dirname, "..", "dist", "cli", "main.js");
if (!fs.existsSync(entry)) {
  console.error("layermerge: dist/ is missing; run `npm install` (or `npm run build`) in " + path.resolve(__dirname, ".."));
  process.exit(1);
}
require(entry).main(process.argv.slice(2)).then(
  (code) => process.exit(code ?? 0),
  (error) => {
    console.error(`layermerge: ${error && error.message ? error.message : error}`);
    process.exit(1);
  },
);
