/**
 * bench:merge's figures: one row per case (format × model count), each timing as the median and
 * the spread (min–max) of its repetitions, and the ratios as medians of per-repetition pairs.
 *
 * Floor, merge, job and numpy run one after the other in every repetition, so a repetition's
 * ratio compares runs that saw about the same load; the median of those ratios is what the
 * targets are checked against. On a shared machine the spread is part of the result.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Dtype, FormatName } from "./mergeModels";
import type { FloorReads } from "./mergeFloor";

export const MB = 1e6;
export const MIB = 1 << 20;
/** The merge over the I/O floor (median of the repetitions' ratios). */
export const TARGET_RATIO = 1.2;
/** The numpy + onnx script's time over the merge job's, created → finished (median of the repetitions' ratios). */
export const TARGET_NUMPY_RATIO = 20;
export const TARGET_RSS_ABOVE_IDLE = 300 * MIB;

/** Median and spread of a series of measurements. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], runs: values };
}

export interface CaseResult {
  format: FormatName;
  dtype: Dtype;
  n: number;
  tensors: number;
  fileBytes: number;
  inputBytes: number;
  outputBytes: number;
  mergedTensors: number;
  copiedTensors: number;
  /** The merge (runMerge in a pool thread, hashing its output as the job does), ms. */
  mergeMs: Spread;
  /** The I/O floor of each repetition: the faster of its two read strategies, ms. */
  floorMs: Spread;
  /** Which read strategy gave each repetition's floor. */
  floorReads: FloorReads[];
  /** mergeMs / floorMs per repetition. */
  ratio: Spread;
  /** CPU time (user + system, all threads) of the median merge and the median floor run, ms. */
  mergeCpuMs: number;
  floorCpuMs: number;
  throughputMBps: number;
  /** 1-minute load average at the case's start and end: the machine is shared, and wall times move with it. */
  loadAverage: [number, number];
  idleRssMiB: number;
  peakRssAboveIdleMiB: number;
  peakRssHwmAboveIdleMiB: number | null;
  /** Peak RSS above the process before its first merge: counts the working memory a worker keeps between merges. */
  peakRssAboveStartMiB: number;
  /** The same merge as a registry job, created → finished; null with --no-jobs. */
  jobMs: Spread | null;
  /** Of each job's time, created → started (claiming it). */
  jobQueuedMs: Spread | null;
  /** The numpy + onnx script on the same files (process wall time). */
  numpyMs: Spread | null;
  /** numpyMs / jobMs per repetition. */
  numpyRatio: Spread | null;
  cache: "warm" | "cold";
}

export function missesTargets(r: CaseResult): boolean {
  return r.ratio.median > TARGET_RATIO || (r.numpyRatio !== null && r.numpyRatio.median < TARGET_NUMPY_RATIO) || Math.max(r.peakRssAboveIdleMiB, r.peakRssAboveStartMiB) * MIB > TARGET_RSS_ABOVE_IDLE;
}

const seconds = (s: Spread | null, width: number) => (s === null ? "n/a" : `${(s.median / 1000).toFixed(2)} ${(s.min / 1000).toFixed(2)}-${(s.max / 1000).toFixed(2)}`).padStart(width);
const times = (s: Spread | null, width: number, digits = 2) => (s === null ? "n/a" : `${s.median.toFixed(digits)} ${s.min.toFixed(digits)}-${s.max.toFixed(digits)}`).padStart(width);

export const HEADER = [
  "format".padEnd(18),
  "N".padStart(2),
  "in MB".padStart(6),
  "merge s (med min-max)".padStart(21),
  "MB/s".padStart(5),
  "floor s (med min-max)".padStart(21),
  "merge/floor (med min-max)".padStart(25),
  "RSS+ MiB".padStart(8),
  "cpu m/f s".padStart(9),
  "job s (med min-max)".padStart(19),
  "numpy s (med min-max)".padStart(22),
  "numpy/job (med min-max)".padStart(23),
  "load".padStart(9),
].join(" ");

export function formatRow(r: CaseResult): string {
  return [
    r.format.padEnd(18),
    String(r.n).padStart(2),
    (r.inputBytes / MB).toFixed(0).padStart(6),
    seconds(r.mergeMs, 21),
    r.throughputMBps.toFixed(0).padStart(5),
    seconds(r.floorMs, 21),
    times(r.ratio, 25),
    Math.max(r.peakRssAboveIdleMiB, r.peakRssAboveStartMiB).toFixed(0).padStart(8),
    `${(r.mergeCpuMs / 1000).toFixed(2)}/${(r.floorCpuMs / 1000).toFixed(2)}`.padStart(9),
    seconds(r.jobMs, 19),
    seconds(r.numpyMs, 22),
    times(r.numpyRatio, 23, 1),
    `${r.loadAverage[0].toFixed(1)}/${r.loadAverage[1].toFixed(1)}`.padStart(9),
  ].join(" ");
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function rounded(value: unknown): unknown {
  if (typeof value === "number") return round(value);
  if (Array.isArray(value)) return value.map(rounded);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rounded(v)]));
  return value;
}

/** Saves the run as bench/results/merge.json (merge-cold.json with caches dropped). */
export function saveResults(results: CaseResult[], settings: Record<string, unknown>, cold: boolean): string {
  const out = path.join(__dirname, "results", cold ? "merge-cold.json" : "merge.json");
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const document = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memoryGiB: round(os.totalmem() / 2 ** 30),
    ...settings,
    targets: { mergeOverFloor: TARGET_RATIO, numpyOverJob: TARGET_NUMPY_RATIO, peakRssAboveIdleMiB: TARGET_RSS_ABOVE_IDLE / MIB },
    results: rounded(results),
  };
  fs.writeFileSync(out, JSON.stringify(document, null, 2) + "\n");
  return out;
}
