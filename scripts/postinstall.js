#!/usr/bin/env node
// Generates the Prisma clients (SQLite and PostgreSQL) and compiles the TypeScript so that
// `npm install && npm start` is all a fresh clone needs.
const { execFileSync } = require("node:child_process");
const path = require("node:path");
const fs = require("node:fs");
const root = path.resolve(__dirname, "..");
if (!fs.existsSync(path.join(root, "prisma", "schema.prisma"))) process.exit(0);
execFileSync(process.execPath, [path.join(__dirname, "generate-prisma.js")], { stdio: "inherit", cwd: root });
execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.build.json"], { stdio: "inherit", cwd: root });

// The web dashboard (web/ → web/dist, served at /). Its toolchain (vite, React) is in
// devDependencies: a production install (--omit=dev) keeps a web/dist built earlier. A failed
// web build does not fail the install: the API still works and / says how to build it.
const webConfig = path.join(root, "web", "vite.config.mts");
let vite = null;
try {
  vite = path.join(path.dirname(require.resolve("vite/package.json", { paths: [root] })), "bin", "vite.js");
} catch {
  // vite not installed (production install)
}
if (fs.existsSync(webConfig) && vite && process.env.LAYERMERGE_SKIP_WEB_BUILD !== "1") {
  try {
    execFileSync(process.execPath, [vite, "build", "--config", webConfig], { stdio: "inherit", cwd: root });
  } catch {
    console.error("layermerge: the web dashboard did not build; the API works, and `npm run build:web` shows why.");
  }
}
