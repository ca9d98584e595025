/**
 * `npm run bench:api:profile -- [query-index] [seconds]`: where the server's CPU
 * goes for one dashboard query. Starts `layermerge serve` with `--cpu-prof` (SQLite, a registry
 * of bench:api's shape with small artifacts), loads the query at 50 connections, stops the server
 * so it writes its profile, and prints the functions with the most self time, grouped by package.
 * PROFILE_NO_CACHE=1 sends Cache-Control: no-cache, so every request is executed (a cache miss).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import autocannon from "autocannon";
import { spawn } from "node:child_process";
import { ensureBuilt } from "../test/support/processes";
import { dashboardQueries, NO_CACHE, seedRegistry } from "./apiRegistry";

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

/**
 * Self time per function and per package (node_modules/<pkg>, or the project's own folder), of
 * the samples taken while the load ran: `window` is its start and end in µs before the
 * profile's end (the server's exit), so seeding and start-up are left out.
 */
function summarize(profile: Profile, window: { fromEndUs: number; toEndUs: number }, top = 30) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    const beforeEnd = profile.endTime - t;
    if (beforeEnd > window.fromEndUs || beforeEnd < window.toEndUs) continue;
    self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const place = (url: string) => {
    const m = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
    if (m) return m[1]!;
    const d = url.match(/\/dist\/([^/]+)/);
    if (d) return `dist/${d[1]}`;
    return url.startsWith("node:") ? "node" : url ? "other" : "(native/gc/idle)";
  };
  const fns = new Map<string, number>();
  const pkgs = new Map<string, number>();
  for (const [id, t] of self) {
    const n = byId.get(id)!;
    const key = `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.replace(/.*node_modules\//, "").replace(/.*\/dist\//, "dist/")}:${n.callFrame.lineNumber + 1}`;
    fns.set(key, (fns.get(key) ?? 0) + t);
    const p = n.callFrame.url ? place(n.callFrame.url) : n.callFrame.functionName;
    pkgs.set(p, (pkgs.get(p) ?? 0) + t);
  }
  const pct = (t: number) => `${((100 * t) / total).toFixed(1)}%`;
  return {
    totalMs: total / 1000,
    packages: [...pkgs].sort((a, b) => b[1] - a[1]).slice(0, 20).map(([k, t]) => `${pct(t).padStart(6)} ${k}`),
    functions: [...fns].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, t]) => `${pct(t).padStart(6)} ${k}`),
  };
}

async function main() {
  ensureBuilt();
  const index = Number(process.argv[2] ?? 1);
  const seconds = Number(process.argv[3] ?? 10);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-profile-"));
  const profileDir = path.join(dir, "profile");
  // Node refuses --cpu-prof in NODE_OPTIONS, so the server is spawned here with it as a flag.
  const child = spawn(process.execPath, ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, path.join(__dirname, "..", "bin", "layermerge.js"), "serve"], {
    env: { ...process.env, LAYERMERGE_DATA_DIR: path.join(dir, "data"), PORT: "0", REDIS_URL: "", DATABASE_URL: process.env.PROFILE_DATABASE_URL ?? "", LOG_LEVEL: "warn", LAYERMERGE_WORKERS: "1", LAYERMERGE_DATASET_ROOTS: "/data" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let loadStarted = 0;
  let loadEnded = 0;
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      const append = (chunk: Buffer) => {
        out += chunk.toString();
        const m = out.match(/serving GraphQL at (http:\/\/\S+\/graphql)/);
        if (m) resolve(m[1]!);
      };
      child.stdout!.on("data", append);
      child.stderr!.on("data", append);
      child.once("exit", () => reject(new Error(`the server exited:\n${out}`)));
    });
    const registry = await seedRegistry(url, { models: 300, bigFloats: 1024, wideTensors: 10 });
    const q = dashboardQueries(registry)[index]!;
    const run = (duration: number) => new Promise<autocannon.Result>((resolve, reject) =>
      autocannon({ url, method: "POST", headers: { "content-type": "application/json", ...(process.env.PROFILE_NO_CACHE === "1" ? NO_CACHE : {}) }, body: q.body, connections: 50, duration, verifyBody: (b) => !String(b ?? "").includes('"errors"') }, (e, r) => (e ? reject(e) : resolve(r))));
    await run(2);
    loadStarted = performance.now();
    const r = await run(seconds);
    loadEnded = performance.now();
    console.log(`${q.name}: ${Math.round(r.requests.average)} req/s, p99 ${r.latency.p99} ms, errors ${r.errors + r.non2xx + r.mismatches}; load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
  const exitedAt = performance.now();
  // The main thread's profile is the largest (pool threads idle).
  const files = fs.readdirSync(profileDir).map((f) => path.join(profileDir, f)).sort((a, b) => fs.statSync(b).size - fs.statSync(a).size);
  const out = process.env.PROFILE_OUT ?? path.join(os.tmpdir(), "layermerge-api.cpuprofile");
  fs.copyFileSync(files[0]!, out);
  const s = summarize(JSON.parse(fs.readFileSync(files[0]!, "utf8")) as Profile, { fromEndUs: (exitedAt - loadStarted) * 1000, toEndUs: (exitedAt - loadEnded) * 1000 });
  console.log(`profile ${out} (${(s.totalMs / 1000).toFixed(1)} s sampled)\nby package:\n${s.packages.join("\n")}\nby function (self):\n${s.functions.join("\n")}`);
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((error) => { console.error(error); process.exit(1); });
