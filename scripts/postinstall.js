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
