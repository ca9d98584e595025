#!/usr/bin/env node
// `npm start` runs the compiled code; rebuild it first when a source file is newer than the build
// (a `git pull` without `npm install`), so the README's two commands always run current code.
const fs = require("node:fs");
const path = require("node:path");
const { execFileSync } = require("node:child_process");
const root = path.resolve(__dirname, "..");
const built = path.join(root, "dist", "cli", "main.js");

function newest(dir) {
  let latest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) latest = Math.max(latest, newest(full));
    else if (entry.name.endsWith(".ts")) latest = Math.max(latest, fs.statSync(full).mtimeMs);
  }
  return latest;
}

const stale = !fs.existsSync(built) || newest(path.join(root, "src")) > fs.statSync(built).mtimeMs;
if (stale) {
  if (!fs.existsSync(path.join(root, "src", "persistence", "generated"))) {
    execFileSync(process.execPath, [path.join(__dirname, "generate-prisma.js")], { stdio: "inherit", cwd: root });
  }
  console.error("layermerge: building (sources changed since the last build)…");
  execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.build.json"], { stdio: "inherit", cwd: root });
  fs.utimesSync(built, new Date(), new Date());
}
