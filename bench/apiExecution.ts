/**
 * `node scripts/bench-api-execution.js`: the CPU one dashboard query costs to execute, the way
 * the server runs it (graphql-jit over resolvers without type-graphql's per-field wrappers)
 * against the way it did (graphql-js over type-graphql's resolvers), in one process, on one
 * SQLite registry of bench:api's shape, alternating rounds — a ratio that holds on a loaded
 * machine, where bench:api's ratios against the floor swing with the other processes.
 *
 * Each round executes the query 200 times, 50 at a time (as 50 connections would keep them in
 * flight), each with fresh loaders as a request has; parsing and validation are left out (the
 * same for both). Process CPU time (all threads) per execution; the median of 5 rounds.
 */
import "reflect-metadata";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execute, parse } from "graphql";
import { buildSchema } from "type-graphql";
import { createPubSub } from "@graphql-yoga/subscription";
import { loadConfig } from "../src/config/config";
import { startApp } from "../src/main";
import { authChecker } from "../src/graphql/authChecker";
import { buildAppSchema, resolvers } from "../src/graphql/schema";
import { CompiledExecution } from "../src/graphql/compiledExecution";
import { Role } from "../src/domain/enums";
import { dashboardQueries, seedRegistry } from "./apiRegistry";

const ROUNDS = 5;
const PER_ROUND = 200;
const IN_FLIGHT = 50;

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-bench-exec-"));
  const app = await startApp(loadConfig({ LAYERMERGE_DATA_DIR: dir, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "silent", REDIS_URL: "", DATABASE_URL: "", LAYERMERGE_DATASET_ROOTS: "/data" }));
  try {
    const registry = await seedRegistry(app.server.url, { models: 300, bigFloats: 1024, wideTensors: 10 });
    await app.services.runner.stop(); // its periodic tick would add to the CPU measured
    const compiled = new CompiledExecution(await buildAppSchema());
    const reference = await buildSchema({ resolvers: [...resolvers], authChecker, authMode: "error", pubSub: createPubSub(), validate: false });
    const context = () => ({ services: app.services, loaders: app.services.createLoaders(), viewer: { role: Role.ADMIN, anonymous: true, tokenId: null, name: "anonymous" }, requestId: "bench" });
    const rows = [];
    for (const q of dashboardQueries(registry).slice(1)) {
      const { query, variables } = JSON.parse(q.body) as { query: string; variables: Record<string, unknown> };
      const document = parse(query);
      const ways = {
        "graphql-js + type-graphql": () => execute({ schema: reference, document, contextValue: context(), variableValues: variables }),
        "graphql-jit + direct": () => compiled.execute(document, undefined, context(), variables),
      };
      const expected = JSON.stringify(await ways["graphql-js + type-graphql"]());
      if (JSON.stringify(await ways["graphql-jit + direct"]()) !== expected || expected.includes('"errors"')) throw new Error(`${q.name}: the two executions disagree or fail`);
      const samples: Record<string, number[]> = { "graphql-js + type-graphql": [], "graphql-jit + direct": [] };
      for (let round = 0; round < ROUNDS + 1; round++) {
        for (const [name, run] of Object.entries(ways)) {
          const before = process.cpuUsage();
          for (let done = 0; done < PER_ROUND; done += IN_FLIGHT) await Promise.all(Array.from({ length: IN_FLIGHT }, () => run()));
          const used = process.cpuUsage(before);
          if (round > 0) samples[name]!.push((used.user + used.system) / 1000 / PER_ROUND); // round 0 warms up
        }
      }
      const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
      const old = median(samples["graphql-js + type-graphql"]!);
      const now = median(samples["graphql-jit + direct"]!);
      rows.push({ query: q.name, "graphql-js + type-graphql CPU ms": round(old), "graphql-jit + direct CPU ms": round(now), "ratio new/old": round(now / old) });
    }
    console.table(rows);
    const loadavg = os.loadavg();
    console.log(`machine: ${os.cpus().length} cores, load average ${loadavg.map((l) => l.toFixed(2)).join(" ")}; ${PER_ROUND} executions per round, ${IN_FLIGHT} in flight, median of ${ROUNDS} rounds`);
    const out = path.join(__dirname, "results", "api-execution.json");
    fs.writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), provider: "sqlite", models: registry.modelCount, rounds: ROUNDS, perRound: PER_ROUND, inFlight: IN_FLIGHT, rows, loadavg }, null, 2) + "\n");
    console.log(`saved ${out}`);
  } finally {
    await app.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

main().then(() => process.exit(0), (error) => {
  console.error(error);
  process.exit(1);
});
