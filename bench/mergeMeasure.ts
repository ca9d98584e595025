/** bench:merge's measurements: page cache control, peak RSS and a timed merge with its CPU time. */
import * as fs from "node:fs";
import * as v8 from "node:v8";
import * as vm from "node:vm";
import { ThreadPool } from "../src/threads/threadPool";
import { runMerge, type RunMergePayload, type RunMergeResult } from "../src/threads/runMerge";


/** Reads every file once (the page cache then holds them). */
export function readAll(files: string[]): void {
  const buffer = Buffer.allocUnsafe(4 << 20);
  for (const file of files) {
    const fd = fs.openSync(file, "r");
    try {
      while (fs.readSync(fd, buffer, 0, buffer.byteLength, null) > 0);
    } finally {
      fs.closeSync(fd);
    }
  }
}

export const gc: () => void = (() => {
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
})();

function procStatus(field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(fs.readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0, "5" in clear_refs); false when not allowed. */
export function resetPeak(): boolean {
  try {
    fs.writeFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

function dropCaches(): boolean {
  try {
    fs.writeFileSync("/proc/sys/vm/drop_caches", "3");
    return true;
  } catch {
    return false;
  }
}

export function syncAndDrop(): boolean {
  // sync(2) first: dirty pages cannot be dropped.
  require("node:child_process").execFileSync("sync");
  return dropCaches();
}

export interface MergeRun {
  ms: number;
  /** User + system CPU of the whole process (all threads) during the merge. */
  cpuMs: number;
  result: RunMergeResult;
  idleRss: number;
  peakRssSampled: number;
  peakRssHwm: number;
}

export async function timedMerge(pool: ThreadPool | null, payload: RunMergePayload, canResetPeak: boolean): Promise<MergeRun> {
  gc();
  await new Promise((r) => setTimeout(r, 50));
  const idleRss = process.memoryUsage.rss();
  if (canResetPeak) resetPeak();
  let peak = idleRss;
  const sampler = setInterval(() => {
    const rss = process.memoryUsage.rss();
    if (rss > peak) peak = rss;
  }, 2);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    const result = pool ? await pool.run("runMerge", payload) : await runMerge(payload, () => undefined);
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    return { ms, cpuMs: (cpu.user + cpu.system) / 1000, result, idleRss, peakRssSampled: Math.max(peak, process.memoryUsage.rss()), peakRssHwm: canResetPeak ? procStatus("VmHWM") : NaN };
  } finally {
    clearInterval(sampler);
  }
}
