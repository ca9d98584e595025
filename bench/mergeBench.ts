/**
 * `npm run bench:merge`: merge wall time, throughput, peak RSS and the
 * ratio to an I/O floor measured in the same run, for every input format, N = 2 and N = 4.
 *
 *   node scripts/bench-merge.js [--formats a,b] [--repeats N] [--cold] [--keep] [--dir PATH] [--direct] [--reparse] [--no-jobs]
 *
 * Models are built in code in a temp folder (written straight from typed arrays, never from JS
 * arrays of numbers), 4 per format, every file ≥ 100 MB, all four sharing one structure:
 * - fp32 formats (ONNX initializers / Constant nodes / float_data): a DeepLabV3-style model on a
 *   ResNet-50 backbone, 309 tensors from 3×3 ASPP convolutions (2.4M elements) down to biases.
 * - 16-bit formats (ONNX fp16, safetensors bf16): the same on ResNet-101, 564 tensors, so the
 *   files stay ≥ 100 MB at 2 bytes an element.
 * Values are built from random bits with bounded exponents, so every value is finite.
 *
 * Each case (format × N, LAYERWISE / LINEAR, anchor + N−1 contributors) runs `runMerge` in a
 * worker thread through ThreadPool, as the registry does (`--direct`: on this thread), with the
 * inputs' layouts parsed beforehand, as the registry records them at registration and passes
 * them to its merges (`--reparse`: the worker parses every input again, timed). The I/O
 * floor (bench/mergeFloor.ts) does the merge's reads and writes with the same overlap and no
 * arithmetic: every input read once, in 4 MiB chunks, all inputs' next chunks in flight while
 * the current one is written through the product's file sink with the merge's settings
 * (background writes, fdatasync every 32 MiB, fsync on close). Floor and merge alternate `--repeats`
 * times and the fastest of each is reported (the least disturbed by the other tenants of the
 * machine); the CPU time (user + system, all threads) of those runs and the load average are
 * printed beside them, because on a shared machine wall times move with the load. Peak RSS is
 * sampled every 2 ms on the main thread (worker threads share the process) and read as VmHWM
 * after resetting it through /proc/self/clear_refs; both are reported above the idle process
 * (pool worker started, nothing in flight), and the larger of the two above the process before
 * its first merge ("RSS+0"), which also counts the ~20 MiB of working memory (accumulator and
 * output slots) that a worker thread keeps for its next merge. The first merge on a worker also
 * pays for that memory's first touches; later runs show the steady state of a long-lived worker.
 *
 * Then (unless `--no-jobs`) the same merge as a registry job, created → finished, on a
 * `layermerge serve` process (bench/mergeJobs.ts), and once per case a numpy + onnx script on the
 * same files (bench/mergeNumpy.py, /usr/bin/python3, process wall time); target: the script
 * ≥ 20 × the job.
 *
 * Page cache: "warm" — inputs were just written and read once more before timing, so every read
 * is served from memory. With `--cold`, every floor and merge run is preceded by
 * `sync; echo 3 > /proc/sys/vm/drop_caches` (needs root and a writable /proc/sys; the report says
 * whether it worked) and results go to merge-cold.json instead of merge.json. On a virtual
 * machine whose host caches the disk, even "cold" reads come from the host's memory: the floor
 * then runs at memory speed and the ratio measures the merge's CPU cost over a memcpy.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as v8 from "node:v8";
import * as vm from "node:vm";
import { ProtoWriter, WIRE_LEN, varintSize } from "../src/core/formats/protobuf/protoWriter";
import { ThreadPool } from "../src/threads/threadPool";
import { runMerge, type RunMergePayload, type RunMergeResult } from "../src/threads/runMerge";
import { parseModelFile } from "../src/core/formats/parseModelFile";
import { layoutOf } from "../src/core/structure/layout";
import type { ParsedModel } from "../src/core/structure/types";
import { overlappedIoFloor, type FloorReads } from "./mergeFloor";
import { numpyMergeSeconds, startJobServer, type JobServer } from "./mergeJobs";

// ---------------------------------------------------------------------------------------------
// The shared structure
// ---------------------------------------------------------------------------------------------

type Dtype = "F32" | "F16" | "BF16";

interface ParamSpec {
  name: string;
  dims: number[];
  elements: number;
}

/** One operator consuming parameters (Conv or BatchNormalization), in forward order. */
interface LayerSpec {
  op: "Conv" | "BatchNormalization";
  input: string;
  output: string;
  params: ParamSpec[];
}

function param(name: string, dims: number[]): ParamSpec {
  return { name, dims, elements: dims.reduce((p, d) => p * d, 1) };
}

/**
 * DeepLabV3 on a bottleneck ResNet (torchvision naming), plus an FCN auxiliary head: convs
 * without bias followed by BatchNorm (weight, bias, running_mean, running_var), classifiers
 * with bias. Inputs chain naively (the graph only has to order the layers, not to run).
 */
function deeplabStructure(blocks: number[], classes = 19, asppChannels = 128): LayerSpec[] {
  const layers: LayerSpec[] = [];
  let current = "image";
  const conv = (prefix: string, cin: number, cout: number, k: number, bias = false, input = current) => {
    const out = `${prefix}.out`;
    layers.push({ op: "Conv", input, output: out, params: [param(`${prefix}.weight`, [cout, cin, k, k]), ...(bias ? [param(`${prefix}.bias`, [cout])] : [])] });
    return out;
  };
  const bn = (prefix: string, c: number, input: string) => {
    const out = `${prefix}.out`;
    layers.push({ op: "BatchNormalization", input, output: out, params: ["weight", "bias", "running_mean", "running_var"].map((p) => param(`${prefix}.${p}`, [c])) });
    return out;
  };
  current = bn("backbone.bn1", 64, conv("backbone.conv1", 3, 64, 7));
  let cin = 64;
  blocks.forEach((count, stage) => {
    const width = 64 << stage;
    for (let b = 0; b < count; b++) {
      const p = `backbone.layer${stage + 1}.${b}`;
      const input = current;
      let x = bn(`${p}.bn1`, width, conv(`${p}.conv1`, cin, width, 1, false, input));
      x = bn(`${p}.bn2`, width, conv(`${p}.conv2`, width, width, 3, false, x));
      x = bn(`${p}.bn3`, width * 4, conv(`${p}.conv3`, width, width * 4, 1, false, x));
      if (b === 0) bn(`${p}.downsample.1`, width * 4, conv(`${p}.downsample.0`, cin, width * 4, 1, false, input));
      current = x;
      cin = width * 4;
    }
  });
  const features = current;
  const branches = [
    bn("classifier.0.convs.0.1", asppChannels, conv("classifier.0.convs.0.0", 2048, asppChannels, 1, false, features)),
    ...[1, 2, 3].map((i) => bn(`classifier.0.convs.${i}.1`, asppChannels, conv(`classifier.0.convs.${i}.0`, 2048, asppChannels, 3, false, features))),
    bn("classifier.0.convs.4.2", asppChannels, conv("classifier.0.convs.4.1", 2048, asppChannels, 1, false, features)),
  ];
  let x = bn("classifier.0.project.1", asppChannels, conv("classifier.0.project.0", asppChannels * 5, asppChannels, 1, false, branches[4]));
  x = bn("classifier.2", asppChannels, conv("classifier.1", asppChannels, asppChannels, 3, false, x));
  current = conv("classifier.4", asppChannels, classes, 1, true, x);
  const aux = bn("aux_classifier.1", 256, conv("aux_classifier.0", 1024, 256, 3, false, features));
  conv("aux_classifier.4", 256, classes, 1, true, aux);
  return layers;
}

const STRUCTURES: Record<"wide" | "deep", LayerSpec[]> = {
  wide: deeplabStructure([3, 4, 6, 3]),
  deep: deeplabStructure([3, 4, 23, 3]),
};

// ---------------------------------------------------------------------------------------------
// Model files, written straight from typed arrays
// ---------------------------------------------------------------------------------------------

type FormatName = "onnx-f32-init" | "onnx-f32-constant" | "onnx-f32-typed" | "onnx-f16" | "safetensors-bf16";

interface FormatSpec {
  name: FormatName;
  dtype: Dtype;
  structure: keyof typeof STRUCTURES;
  ext: string;
  describe: string;
}

const FORMATS: FormatSpec[] = [
  { name: "onnx-f32-init", dtype: "F32", structure: "wide", ext: "onnx", describe: "ONNX fp32, initializers (raw_data)" },
  { name: "onnx-f32-constant", dtype: "F32", structure: "wide", ext: "onnx", describe: "ONNX fp32, Constant nodes (raw_data)" },
  { name: "onnx-f32-typed", dtype: "F32", structure: "wide", ext: "onnx", describe: "ONNX fp32, initializers (packed float_data)" },
  { name: "onnx-f16", dtype: "F16", structure: "deep", ext: "onnx", describe: "ONNX fp16, initializers (raw_data)" },
  { name: "safetensors-bf16", dtype: "BF16", structure: "deep", ext: "safetensors", describe: "safetensors bf16" },
];

const WIDTH: Record<Dtype, number> = { F32: 4, F16: 2, BF16: 2 };
const ONNX_TYPE: Record<Dtype, number> = { F32: 1, F16: 10, BF16: 16 };

/** A counter-based generator (xorshift32): a fresh, reproducible stream per (model, tensor). */
function fillRandom(out: Uint8Array, dtype: Dtype, seed: number, variance: boolean): void {
  let s = (seed * 0x9e3779b1 + 0x7f4a7c15) >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>>= 0);
  };
  if (dtype === "F32") {
    // exponent 118..125: |x| in [2^-9, 2^-2); running_var positive.
    const bits = new Uint32Array(out.buffer, out.byteOffset, out.byteLength / 4);
    for (let i = 0; i < bits.length; i++) {
      const r = next();
      const sign = variance ? 0 : (r & 8) << 28;
      bits[i] = (sign | ((118 + (r & 7)) << 23) | (r >>> 9)) >>> 0;
    }
    return;
  }
  const halves = new Uint16Array(out.buffer, out.byteOffset, out.byteLength / 2);
  for (let i = 0; i < halves.length; i++) {
    const r = next();
    const sign = variance ? 0 : (r & 8) << 12;
    // fp16: exponent 6..13 (|x| in [2^-9, 2^-2)); bf16: exponent 118..125, same range.
    halves[i] = dtype === "F16" ? sign | ((6 + (r & 7)) << 10) | (r >>> 22) : sign | ((118 + (r & 7)) << 7) | (r >>> 25);
  }
}

/** Sequential writer with a large staging buffer: few syscalls, bounded memory. */
class FileWriter {
  private readonly fd: number;
  private readonly buffer = Buffer.allocUnsafe(8 << 20);
  private used = 0;
  bytes = 0;
  constructor(file: string) {
    this.fd = fs.openSync(file, "w");
  }
  write(chunk: Uint8Array): void {
    this.bytes += chunk.byteLength;
    if (this.used + chunk.byteLength > this.buffer.length) this.flush();
    if (chunk.byteLength >= this.buffer.length) {
      writeAll(this.fd, chunk);
      return;
    }
    this.buffer.set(chunk, this.used);
    this.used += chunk.byteLength;
  }
  flush(): void {
    writeAll(this.fd, this.buffer.subarray(0, this.used));
    this.used = 0;
  }
  close(): void {
    this.flush();
    fs.closeSync(this.fd);
  }
}

function writeAll(fd: number, chunk: Uint8Array): void {
  for (let at = 0; at < chunk.byteLength; ) at += fs.writeSync(fd, chunk, at, chunk.byteLength - at);
}

const tagLen = (field: number, length: number) => new ProtoWriter().tag(field, WIRE_LEN).varint(length).finish();
const lenFieldSize = (field: number, length: number) => varintSize(field * 8 + WIRE_LEN) + varintSize(length) + length;

/** TensorProto fields before the payload (dims 1, data_type 2, name 8), then the payload's tag and length. */
function tensorHead(p: ParamSpec, dtype: Dtype, payloadField: 9 | 4): { head: Uint8Array; size: number } {
  const w = new ProtoWriter();
  for (const d of p.dims) w.varintField(1, d);
  w.varintField(2, ONNX_TYPE[dtype]).stringField(8, p.name).tag(payloadField, WIRE_LEN).varint(p.elements * WIDTH[dtype]);
  const head = w.finish();
  return { head, size: head.byteLength + p.elements * WIDTH[dtype] };
}

/**
 * An ONNX ModelProto written in one pass: every message length is known before its payload
 * (lengths are computed from the structure), so tensor bytes go from a typed array to the file.
 */
function writeOnnx(file: string, layers: LayerSpec[], format: FormatSpec, seed: number): number {
  const { dtype } = format;
  const constants = format.name === "onnx-f32-constant";
  const payloadField = format.name === "onnx-f32-typed" ? 4 : 9;
  // Graph parts: small framing bytes, or a tensor payload to generate.
  type Part = Uint8Array | { param: ParamSpec; variance: boolean; seed: number };
  const parts: Part[] = [];
  let graphSize = 0;
  const push = (p: Part, size: number) => {
    parts.push(p);
    graphSize += size;
  };
  let tensorSeed = seed * 100_000;
  const payload = (p: ParamSpec) => push({ param: p, variance: p.name.endsWith("running_var"), seed: tensorSeed++ }, p.elements * WIDTH[dtype]);
  const node = (op: string, inputs: string[], outputs: string[]) => {
    const w = new ProtoWriter();
    for (const i of inputs) w.stringField(1, i);
    for (const o of outputs) w.stringField(2, o);
    w.stringField(4, op);
    return w.finish();
  };
  if (constants) {
    // NodeProto { output 2, op_type 4, attribute 5 { name 1, type 20 = TENSOR, t 5 { TensorProto } } }.
    for (const layer of layers) {
      for (const p of layer.params) {
        const t = tensorHead(p, dtype, 9);
        const attrFields = new ProtoWriter().stringField(1, "value").varintField(20, 4).finish();
        const attrSize = attrFields.byteLength + lenFieldSize(5, t.size);
        const nodeFields = node("Constant", [], [p.name]);
        const nodeSize = nodeFields.byteLength + lenFieldSize(5, attrSize);
        const prefix = Buffer.concat([tagLen(1, nodeSize), nodeFields, tagLen(5, attrSize), attrFields, tagLen(5, t.size), t.head]);
        push(prefix, prefix.byteLength);
        payload(p);
      }
    }
  }
  for (const layer of layers) {
    const n = node(layer.op, [layer.input, ...layer.params.map((p) => p.name)], [layer.output]);
    push(Buffer.concat([tagLen(1, n.byteLength), n]), lenFieldSize(1, n.byteLength));
  }
  const graphName = new ProtoWriter().stringField(2, "deeplabv3").finish();
  push(graphName, graphName.byteLength);
  if (!constants) {
    for (const layer of layers) {
      for (const p of layer.params) {
        const t = tensorHead(p, dtype, payloadField);
        const prefix = Buffer.concat([tagLen(5, t.size), t.head]);
        push(prefix, prefix.byteLength);
        payload(p);
      }
    }
  }
  const valueInfo = (field: number, name: string, shape: number[]) =>
    new ProtoWriter()
      .messageField(field, (v) =>
        v.stringField(1, name).messageField(2, (type) =>
          type.messageField(1, (tt) => tt.varintField(1, ONNX_TYPE[dtype]).messageField(2, (s) => shape.forEach((d) => s.messageField(1, (dim) => dim.varintField(1, d))))),
        ),
      )
      .finish();
  const io = [valueInfo(11, "image", [1, 3, 512, 512]), valueInfo(12, layers[layers.length - 1].output, [1, 19, 64, 64])];
  for (const b of io) push(b, b.byteLength);

  const out = new FileWriter(file);
  out.write(new ProtoWriter().varintField(1, 8).stringField(2, "layermerge-bench").finish());
  out.write(tagLen(7, graphSize));
  for (const part of parts) {
    if (part instanceof Uint8Array) out.write(part);
    else {
      const bytes = new Uint8Array(part.param.elements * WIDTH[dtype]);
      fillRandom(bytes, dtype, part.seed, part.variance);
      out.write(bytes);
    }
  }
  out.write(new ProtoWriter().messageField(8, (o) => o.varintField(2, 17)).finish());
  out.close();
  return out.bytes;
}

/** safetensors: 8-byte header length, JSON header (tensors in forward order), data. */
function writeSafetensorsFile(file: string, layers: LayerSpec[], dtype: Dtype, seed: number): number {
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let offset = 0;
  const params = layers.flatMap((l) => l.params);
  for (const p of params) {
    const length = p.elements * WIDTH[dtype];
    header[p.name] = { dtype, shape: p.dims, data_offsets: [offset, offset + length] };
    offset += length;
  }
  let text = Buffer.from(JSON.stringify(header), "utf8");
  text = Buffer.concat([text, Buffer.alloc((8 - (text.byteLength % 8)) % 8, 0x20)]);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(text.byteLength));
  const out = new FileWriter(file);
  out.write(length);
  out.write(text);
  let tensorSeed = seed * 100_000;
  for (const p of params) {
    const bytes = new Uint8Array(p.elements * WIDTH[dtype]);
    fillRandom(bytes, dtype, tensorSeed++, p.name.endsWith("running_var"));
    out.write(bytes);
  }
  out.close();
  return out.bytes;
}

// ---------------------------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------------------------

/** Reads every file once (the page cache then holds them). */
function readAll(files: string[]): void {
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

const gc: () => void = (() => {
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
})();

function procStatus(field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(fs.readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0, "5" in clear_refs); false when not allowed. */
function resetPeak(): boolean {
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

function syncAndDrop(): boolean {
  // sync(2) first: dirty pages cannot be dropped.
  require("node:child_process").execFileSync("sync");
  return dropCaches();
}

interface MergeRun {
  ms: number;
  /** User + system CPU of the whole process (all threads) during the merge. */
  cpuMs: number;
  result: RunMergeResult;
  idleRss: number;
  peakRssSampled: number;
  peakRssHwm: number;
}

async function timedMerge(pool: ThreadPool | null, payload: RunMergePayload, canResetPeak: boolean): Promise<MergeRun> {
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

// ---------------------------------------------------------------------------------------------
// Driver
// ---------------------------------------------------------------------------------------------

interface Options {
  formats: FormatName[];
  repeats: number;
  cold: boolean;
  keep: boolean;
  dir?: string;
  direct: boolean;
  reparse: boolean;
  /** Also time registry jobs and the numpy + onnx script (`--no-jobs`: not). */
  jobs: boolean;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { formats: FORMATS.map((f) => f.name), repeats: 3, cold: false, keep: false, direct: false, reparse: false, jobs: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === "--formats") {
      const names = value().split(",");
      for (const n of names) if (!FORMATS.some((f) => f.name === n)) throw new Error(`unknown format ${n}; one of ${FORMATS.map((f) => f.name).join(", ")}`);
      options.formats = names as FormatName[];
    } else if (arg === "--repeats") options.repeats = Math.max(1, Number.parseInt(value(), 10) || 1);
    else if (arg === "--cold") options.cold = true;
    else if (arg === "--keep") options.keep = true;
    else if (arg === "--dir") options.dir = value();
    else if (arg === "--direct") options.direct = true;
    else if (arg === "--reparse") options.reparse = true;
    else if (arg === "--no-jobs") options.jobs = false;
    else throw new Error(`unknown option ${arg}`);
  }
  return options;
}

const MB = 1e6;
const MIB = 1 << 20;
const TARGET_RATIO: Record<Dtype, number> = { F32: 1.2, F16: 1.2, BF16: 1.2 };
/** The numpy + onnx script's time over the merge job's (created → finished). */
const TARGET_NUMPY_RATIO = 20;
const TARGET_RSS_ABOVE_IDLE = 300 * MIB;

interface CaseResult {
  format: FormatName;
  dtype: Dtype;
  n: number;
  tensors: number;
  fileBytes: number;
  inputBytes: number;
  outputBytes: number;
  mergedTensors: number;
  copiedTensors: number;
  mergeMs: number;
  mergeRunsMs: number[];
  mergeCpuMs: number;
  floorMs: number;
  floorRunsMs: number[];
  /** How the fastest floor run read (concurrent pool reads, or synchronous preads as the merge does). */
  floorReads: FloorReads;
  floorCpuMs: number;
  /** 1-minute load average before the case: the machine is shared, and wall times move with it. */
  loadAverage: number;
  throughputMBps: number;
  floorThroughputMBps: number;
  ratio: number;
  targetRatio: number;
  idleRssMiB: number;
  peakRssAboveIdleMiB: number;
  peakRssHwmAboveIdleMiB: number | null;
  /** Peak RSS above the process before its first merge: counts the working memory a worker keeps between merges. */
  peakRssAboveStartMiB: number;
  /** The same merge as a registry job, created → finished (best of the repeats); null with --no-jobs. */
  jobMs: number | null;
  jobRunsMs: number[];
  /** Of the best job's time, created → started (claiming it). */
  jobQueuedMs: number | null;
  /** The numpy + onnx script on the same files (process wall time, one run). */
  numpyMs: number | null;
  /** numpyMs / jobMs. */
  numpyRatio: number | null;
  cache: "warm" | "cold";
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "layermerge-bench-merge-"));
  fs.mkdirSync(dir, { recursive: true });
  const canResetPeak = resetPeak();
  let cold = false;
  if (options.cold) {
    cold = syncAndDrop();
    if (!cold) console.log("--cold: cannot write /proc/sys/vm/drop_caches here; running warm only");
  }
  const pool = options.direct ? null : new ThreadPool(1);
  const jobs: JobServer | null = options.jobs ? await startJobServer(dir) : null;
  const results: CaseResult[] = [];
  try {
    if (pool) await pool.run("sleep", { ms: 0 }); // start the worker (and its compiler) before measuring idle
    gc();
    const startRss = process.memoryUsage.rss();
    for (const format of FORMATS.filter((f) => options.formats.includes(f.name))) {
      const layers = STRUCTURES[format.structure];
      const tensorCount = layers.reduce((s, l) => s + l.params.length, 0);
      const files: string[] = [];
      const g0 = performance.now();
      for (let m = 0; m < 4; m++) {
        const file = path.join(dir, `${format.name}-${m}.${format.ext}`);
        if (!fs.existsSync(file)) {
          if (format.ext === "onnx") writeOnnx(file, layers, format, m + 1);
          else writeSafetensorsFile(file, layers, format.dtype, m + 1);
        }
        files.push(file);
      }
      const sizes = files.map((f) => fs.statSync(f).size);
      console.log(`${format.describe}: 4 × ${(sizes[0] / MB).toFixed(1)} MB, ${tensorCount} tensors, built in ${((performance.now() - g0) / 1000).toFixed(1)} s`);
      // What registration records as the artifact's layout.
      const modelIds: string[] = [];
      if (jobs) {
        // Building the files held this thread for seconds: let the loop see the server close the
        // idle keep-alive connection first, or the next request is sent on the dead socket.
        await new Promise((r) => setTimeout(r, 20));
        for (const f of files) modelIds.push(await jobs.register(f));
      }
      const layouts: Array<ParsedModel | null> = files.map((f) => (options.reparse ? null : layoutOf(parseModelFile(f))));
      for (const n of [2, 4]) {
        const inputs = files.slice(0, n);
        const payload: RunMergePayload = {
          anchor: { file: inputs[0], name: path.basename(inputs[0]), layout: layouts[0] },
          contributors: inputs.slice(1).map((f, i) => ({ file: f, name: path.basename(f), layout: layouts[i + 1] })),
          recipe: { method: "LAYERWISE", schedule: { kind: "LINEAR" }, weights: null, params: {} },
          outFile: path.join(dir, `merged-${format.name}-${n}.${format.ext}`),
          metadata: { "layermerge.method": "LAYERWISE", "layermerge.schedule": JSON.stringify({ kind: "LINEAR" }) },
        };
        const floorFile = path.join(dir, `floor-${format.name}-${n}.tmp`);
        if (!cold) readAll(inputs);
        const merges: MergeRun[] = [];
        const floors: Array<{ ms: number; cpuMs: number; reads: FloorReads }> = [];
        const jobRuns: Array<{ ms: number; queuedMs: number }> = [];
        const loadAverage = os.loadavg()[0];
        for (let r = 0; r < options.repeats; r++) {
          fs.rmSync(payload.outFile, { force: true });
          // The floor writes as many bytes as the merge does; before the first merge, the anchor's size.
          for (const reads of ["concurrent", "sync"] as const) {
            if (cold) syncAndDrop();
            floors.push(await overlappedIoFloor(inputs, floorFile, merges[0]?.result.outputBytes ?? sizes[0], reads));
          }
          if (cold) syncAndDrop();
          merges.push(await timedMerge(pool, payload, canResetPeak));
          if (jobs) {
            if (cold) syncAndDrop();
            const job = await jobs.mergeSeconds(modelIds[0], modelIds.slice(1, n));
            jobRuns.push({ ms: 1000 * job.total, queuedMs: 1000 * job.queued });
          }
        }
        if (cold) syncAndDrop();
        const numpyMs = jobs ? 1000 * numpyMergeSeconds(inputs, path.join(dir, `numpy-${format.name}-${n}.${format.ext}`)) : null;
        const bestJob = jobRuns.length ? jobRuns.reduce((a, b) => (b.ms < a.ms ? b : a)) : null;
        const jobMs = bestJob?.ms ?? null;
        fs.rmSync(payload.outFile, { force: true });
        const best = merges.reduce((a, b) => (b.ms < a.ms ? b : a));
        const bestFloor = floors.reduce((a, b) => (b.ms < a.ms ? b : a));
        const floorMs = bestFloor.ms;
        const inputBytes = sizes.slice(0, n).reduce((a, b) => a + b, 0);
        const peakSampled = Math.max(...merges.map((m) => m.peakRssSampled - m.idleRss));
        const peakHwm = canResetPeak ? Math.max(...merges.map((m) => m.peakRssHwm - m.idleRss)) : null;
        const peakAboveStart = Math.max(...merges.map((m) => (canResetPeak ? Math.max(m.peakRssHwm, m.peakRssSampled) : m.peakRssSampled) - startRss));
        const row: CaseResult = {
          format: format.name,
          dtype: format.dtype,
          n,
          tensors: tensorCount,
          fileBytes: sizes[0],
          inputBytes,
          outputBytes: best.result.outputBytes,
          mergedTensors: best.result.mergedCount,
          copiedTensors: best.result.copiedCount,
          mergeMs: best.ms,
          mergeRunsMs: merges.map((m) => round(m.ms)),
          mergeCpuMs: best.cpuMs,
          floorMs,
          floorRunsMs: floors.map((f) => round(f.ms)),
          floorReads: bestFloor.reads,
          floorCpuMs: bestFloor.cpuMs,
          loadAverage,
          throughputMBps: inputBytes / MB / (best.ms / 1000),
          floorThroughputMBps: inputBytes / MB / (floorMs / 1000),
          ratio: best.ms / floorMs,
          targetRatio: TARGET_RATIO[format.dtype],
          idleRssMiB: best.idleRss / MIB,
          peakRssAboveIdleMiB: peakSampled / MIB,
          peakRssHwmAboveIdleMiB: peakHwm === null ? null : peakHwm / MIB,
          peakRssAboveStartMiB: peakAboveStart / MIB,
          jobMs,
          jobRunsMs: jobRuns.map((j) => round(j.ms)),
          jobQueuedMs: bestJob?.queuedMs ?? null,
          numpyMs,
          numpyRatio: jobMs && numpyMs ? numpyMs / jobMs : null,
          cache: cold ? "cold" : "warm",
        };
        results.push(row);
        console.log(formatRow(row));
      }
      if (!options.keep && !options.dir) for (const f of files) fs.rmSync(f, { force: true });
    }
  } finally {
    await pool?.close();
    await jobs?.close();
    if (!options.keep && !options.dir) fs.rmSync(dir, { recursive: true, force: true });
  }

  console.log("");
  console.log(`page cache: ${cold ? "cold (caches dropped before every floor and merge run)" : "warm (inputs just written and read once before timing)"}; ${options.direct ? "merge on the main thread" : "merge in a worker thread (ThreadPool)"}; best of ${options.repeats}`);
  console.log(HEADER);
  for (const r of results) console.log(formatRow(r));
  const failures = results.filter((r) => r.ratio > r.targetRatio || (r.numpyRatio !== null && r.numpyRatio < TARGET_NUMPY_RATIO) || Math.max(r.peakRssAboveIdleMiB, r.peakRssAboveStartMiB) * MIB > TARGET_RSS_ABOVE_IDLE);
  console.log(failures.length === 0 ? "all targets met" : `targets missed: ${failures.map((r) => `${r.format} N=${r.n}`).join(", ")}`);

  const out = path.join(__dirname, "results", cold ? "merge-cold.json" : "merge.json");
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(
    out,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
        memoryGiB: round(os.totalmem() / 2 ** 30),
        pageCache: cold ? "cold" : "warm",
        coldRequested: options.cold,
        dropCachesWorked: cold,
        vmHwmReset: canResetPeak,
        runner: options.direct ? "direct" : "worker-thread",
        layouts: options.reparse ? "parsed in the timed merge" : "recorded beforehand, as at registration",
        repeats: options.repeats,
        floor: "overlapped: all inputs read concurrently while the output goes through the merge's file sink (background writes, fdatasync every 32 MiB, fsync on close)",
        targets: { ratio: TARGET_RATIO, numpyOverJob: TARGET_NUMPY_RATIO, peakRssAboveIdleMiB: TARGET_RSS_ABOVE_IDLE / MIB },
        results: results.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === "number" ? round(v) : v]))),
      },
      null,
      2,
    ) + "\n",
  );
  console.log(`saved ${path.relative(process.cwd(), out)}`);
}

const HEADER = `${"format".padEnd(18)} ${"N".padStart(2)} ${"in MB".padStart(7)} ${"merge s".padStart(8)} ${"MB/s".padStart(7)} ${"floor s".padStart(8)} ${"ratio".padStart(6)} ${"target".padStart(6)} ${"RSS+ MiB".padStart(9)} ${"HWM+ MiB".padStart(9)} ${"RSS+0 MiB".padStart(10)} ${"cpu m/f s".padStart(10)} ${"job s".padStart(6)} ${"numpy s".padStart(8)} ${"np/job".padStart(7)} ${"load".padStart(5)}`;

function formatRow(r: CaseResult): string {
  return [
    r.format.padEnd(18),
    String(r.n).padStart(2),
    (r.inputBytes / MB).toFixed(0).padStart(7),
    (r.mergeMs / 1000).toFixed(2).padStart(8),
    r.throughputMBps.toFixed(0).padStart(7),
    (r.floorMs / 1000).toFixed(2).padStart(8),
    r.ratio.toFixed(2).padStart(6),
    `≤${r.targetRatio.toFixed(1)}`.padStart(6),
    r.peakRssAboveIdleMiB.toFixed(0).padStart(9),
    (r.peakRssHwmAboveIdleMiB === null ? "n/a" : r.peakRssHwmAboveIdleMiB.toFixed(0)).padStart(9),
    r.peakRssAboveStartMiB.toFixed(0).padStart(10),
    `${(r.mergeCpuMs / 1000).toFixed(2)}/${(r.floorCpuMs / 1000).toFixed(2)}`.padStart(10),
    (r.jobMs === null ? "n/a" : (r.jobMs / 1000).toFixed(2)).padStart(6),
    (r.numpyMs === null ? "n/a" : (r.numpyMs / 1000).toFixed(2)).padStart(8),
    (r.numpyRatio === null ? "n/a" : r.numpyRatio.toFixed(1)).padStart(7),
    r.loadAverage.toFixed(1).padStart(5),
  ].join(" ");
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
