/**
 * `npm run bench:probability`: CPU time of the probability statistics (INFO_MAX, ENTROPY) of
 * one 512² × 19-class float32 logits image, the WebAssembly SIMD kernel against the scalar
 * JavaScript path, alternating in one process so load changes hit both. Checks that both give
 * the same bits on every image. Env: BENCH_ROUNDS (default 15), BENCH_PIXELS (default 512²),
 * BENCH_CLASSES (default 19).
 */
import * as os from "node:os";
import { probabilityStats, type StatsKernel } from "../src/core/search/imageStats";
import { prng } from "../src/core/testing/prng";

const rounds = Number(process.env.BENCH_ROUNDS ?? 15);
const pixels = Number(process.env.BENCH_PIXELS ?? 512 * 512);
const classes = Number(process.env.BENCH_CLASSES ?? 19);

/**
 * Two spreads of logits: a trained net's (a per-pixel favourite class well above the rest, the
 * others spread over 8) and an untrained one's like the benchmark nets' (all within 0.4 of the
 * pixel's maximum, where Math.exp has little range reduction to do).
 */
const random = prng(7);
const spreads: Array<[string, (favourite: boolean) => number]> = [
  ["trained-like", (favourite) => (random() - 0.5) * 8 + (favourite ? 6 : 0)],
  ["untrained-like", () => random() * 0.4],
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const lines: string[] = [];
for (const [name, logit] of spreads) {
  const logits = new Float32Array(classes * pixels);
  for (let i = 0; i < pixels; i++) {
    const favourite = Math.floor(random() * classes);
    for (let c = 0; c < classes; c++) logits[c * pixels + i] = logit(c === favourite);
  }
  const cpuMs = (kernel: StatsKernel): { ms: number; stats: Float64Array } => {
    const t = process.cpuUsage();
    const stats = probabilityStats(logits, classes, pixels, "LOGITS", kernel);
    const u = process.cpuUsage(t);
    return { ms: (u.user + u.system) / 1000, stats };
  };
  const times: Record<StatsKernel, number[]> = { auto: [], scalar: [] };
  for (let w = 0; w < 3; w++) {
    cpuMs("scalar");
    cpuMs("auto");
  }
  for (let r = 0; r < rounds; r++) {
    const a = cpuMs("scalar");
    const b = cpuMs("auto");
    times.scalar.push(a.ms);
    times.auto.push(b.ms);
    for (let i = 0; i < a.stats.length; i++) {
      if (!Object.is(a.stats[i], b.stats[i])) throw new Error(`${name}, stat ${i}: SIMD ${b.stats[i]} ≠ scalar ${a.stats[i]}`);
    }
  }
  const s = median(times.scalar);
  const v = median(times.auto);
  const ns = (ms: number) => ((ms * 1e6) / (pixels * classes)).toFixed(2);
  lines.push(`${name} logits:`);
  lines.push(`  scalar JS   median ${s.toFixed(2)} ms CPU/image (min ${Math.min(...times.scalar).toFixed(2)}) = ${ns(s)} ns per pixel × class`);
  lines.push(`  WASM SIMD   median ${v.toFixed(2)} ms CPU/image (min ${Math.min(...times.auto).toFixed(2)}) = ${ns(v)} ns per pixel × class`);
  lines.push(`  ratio scalar / SIMD ${(s / v).toFixed(2)}x (bar ≥ 3x); same bits on every image: yes`);
}
const load = os.loadavg().map((x: number) => x.toFixed(2)).join(" ");
console.log(`probability statistics, ${Math.sqrt(pixels)}² × ${classes} float32 logits, ${rounds} rounds, load average ${load}`);
for (const line of lines) console.log(line);
