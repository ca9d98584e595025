import { DomainError, badInput, invariant } from "../errors";
import type { TensorInfo } from "../structure/types";
import { DTYPE_BYTES } from "../structure/types";
import { decodeInto } from "./decodeFloats";
import { countNonFinite, encodeFromFloats } from "./encodeFloats";
import { FloatArray, viewAs } from "./floatArrays";
import { FusedStream, type FusedStreamScheduler } from "./fusedStream";
import { BASE_MODEL_INDEX, type MergeExecution, type MergeExecutionOptions, type MergeIo, type RangeReader } from "./mergeIo";
import { MERGE_METHODS } from "./mergeMethods";
import type { FusedWeightedSum, TensorMerge } from "./methods/mergeMethod";
import { OutputPool } from "./outputPool";
import type { MergePlan, PlannedTensor } from "./planMerge";

export { BASE_MODEL_INDEX } from "./mergeIo";
export type { MergeIo, RangeReader, MergeExecutionOptions, MergeExecution } from "./mergeIo";

export const DEFAULT_CHUNK_ELEMENTS = 1 << 17;

/** Least time between two progress reports from inside a tensor. */
const PROGRESS_STEP_MS = 20;

function cancelled(): DomainError {
  return new DomainError("CANCELLED", "merge cancelled");
}

function byteWidth(t: TensorInfo): number {
  return DTYPE_BYTES[t.dtype];
}

type MergedTensor = Extract<PlannedTensor, { action: "merge" }>;

/** The registered method that merges a planned tensor. */
function methodOf(p: MergedTensor) {
  const method = MERGE_METHODS[p.method];
  invariant(method, `tensor ${p.tensor.name} planned with unknown method ${p.method}`);
  return method;
}

/**
 * Streams a planned merge (plan first, then stream, as mergekit). This is the scheduler: for
 * each tensor asked for it reads the inputs (whole, or chunk by chunk when they can be read by
 * range), checks and decodes them into the working precision, and makes one call into the
 * tensor's method (methods/), whose results it encodes into the anchor's dtype; a method with a
 * fused weighted-sum kernel is streamed by fusedStream.ts instead, with reads ahead of the
 * arithmetic. It also reports progress and honours cancellation. Peak memory is a few
 * chunk-sized arrays per input when chunking (tensor-sized ones otherwise), whatever the number
 * of models.
 *
 * A NaN or Inf in any input of a merged tensor, or a merged value that overflows the anchor's
 * dtype, refuses the merge with BAD_USER_INPUT naming model and tensor: a non-finite weight
 * would silently break every prediction of the merged model. Copied tensors are not inspected.
 */
export function executeMerge(plan: MergePlan, io: MergeIo, options: MergeExecutionOptions = {}): MergeExecution {
  return new StreamingMerge(plan, io, options);
}

/**
 * One merge's execution. A class, not closures made per merge: its methods (the hot path of every
 * merge) are then optimized once per thread, where closures made afresh for each merge were
 * compiled again every time.
 */
class StreamingMerge implements MergeExecution, FusedStreamScheduler {
  readonly chunkElements: number;
  readonly kernels?: "simd" | "js";
  readonly nextRequested = new Map<string, PlannedTensor>();
  readonly outputs = new OutputPool();
  private readonly byName: Map<string, PlannedTensor>;
  private readonly produced = new Set<string>();
  private readonly totalBytes: number;
  private bytesDone = 0;
  private done = 0;
  private merging: string | null = null;
  // Progress within a tensor: at most every PROGRESS_STEP_MS, so the hot loop (thousands of
  // chunk reads a second) does not build a message per read. Every tensor still reports its end.
  private lastStepReport = 0;
  private readonly fused: FusedStream;

  constructor(
    private readonly plan: MergePlan,
    private readonly io: MergeIo,
    private readonly options: MergeExecutionOptions,
  ) {
    this.byName = new Map<string, PlannedTensor>(plan.tensors.map((p) => [p.tensor.name, p]));
    this.chunkElements = Math.max(1, Math.floor(options.chunkElements ?? DEFAULT_CHUNK_ELEMENTS));
    this.kernels = options.kernels;
    // A method with a statistic pass reads its inputs more than once; progress counts what is really read.
    this.totalBytes = plan.tensors.reduce((sum, p) => {
      if (p.action !== "merge") return sum;
      const inputs = p.inputs.reduce((s, x) => s + x.tensor.elements * byteWidth(x.tensor), 0);
      const base = p.baseTensor ? p.baseTensor.elements * byteWidth(p.baseTensor) : 0;
      const reads = methodOf(p).reads(p.inputs.length, p.tensor.dtype === "F64");
      return sum + reads.eachInput * inputs + reads.base * base;
    }, 0);
    if (options.requestOrder) {
      const order = options.requestOrder.map((name) => this.byName.get(name)).filter((p): p is PlannedTensor => p !== undefined && p.action === "merge");
      order.forEach((p, i) => i + 1 < order.length && this.nextRequested.set(p.tensor.name, order[i + 1]));
    }
    this.fused = new FusedStream(this);
  }

  checkCancelled(): void {
    if (this.options.signal?.aborted) throw cancelled();
  }

  private report(message: string): void {
    this.options.onProgress?.(this.totalBytes > 0 ? Math.min(1, this.bytesDone / this.totalBytes) : 1, message);
  }

  private reportStep(tensor: TensorInfo): void {
    if (!this.options.onProgress) return;
    const now = performance.now();
    if (now - this.lastStepReport < PROGRESS_STEP_MS) return;
    this.lastStepReport = now;
    this.report(`merging ${tensor.name} (${this.done + 1}/${this.plan.mergedCount})`);
  }

  counted(bytes: number, tensor: TensorInfo): void {
    this.bytesDone += bytes;
    this.reportStep(tensor);
  }

  modelName(index: number): string {
    return index === BASE_MODEL_INDEX ? this.plan.baseName ?? "base" : this.plan.modelNames[index];
  }

  readerOf(model: number, tensor: TensorInfo): RangeReader | null {
    return this.io.rangeReader ? this.io.rangeReader(model, tensor) : null;
  }

  /** Bytes of elements [start, start + count) in a buffer of their own (callers may hold several). */
  async fetchFresh(model: number, tensor: TensorInfo, start: number, count: number): Promise<Uint8Array> {
    const reader = this.readerOf(model, tensor);
    if (reader) {
      const into = new Uint8Array(count * byteWidth(tensor));
      await reader(start, count, into);
      return into;
    }
    if (start === 0 && count === tensor.elements) return this.io.readTensor(model, tensor);
    invariant(this.io.readTensorRange, `tensor ${tensor.name} was chunked without a way to read ranges`);
    return this.io.readTensorRange(model, tensor, start, count);
  }

  /** Chunking needs every input of the tensor readable by range. */
  canChunk(p: MergedTensor): boolean {
    return (
      this.io.readTensorRange !== undefined ||
      (p.inputs.every((x) => this.readerOf(x.model, x.tensor) !== null) && (!p.baseTensor || this.readerOf(BASE_MODEL_INDEX, p.baseTensor) !== null))
    );
  }

  /** Reads, decodes into the working precision and checks elements [start, start + count). */
  private async readValues(model: number, tensor: TensorInfo, f64: boolean, start: number, count: number): Promise<FloatArray> {
    this.checkCancelled();
    const bytes = await this.fetchFresh(model, tensor, start, count);
    this.checkCancelled();
    const expected = count * byteWidth(tensor);
    if (bytes.byteLength !== expected) {
      throw badInput(`${this.modelName(model)}: tensor ${JSON.stringify(tensor.name)} gave ${bytes.byteLength} bytes of data where ${count} ${tensor.dtype} elements need ${expected}`);
    }
    let values: FloatArray;
    if (!f64 && tensor.dtype === "F32") {
      values = viewAs(bytes, Float32Array);
    } else {
      values = f64 ? new Float64Array(count) : new Float32Array(count);
      decodeInto(bytes, tensor.dtype, values);
    }
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v - v !== 0) {
        const name = this.modelName(model);
        throw badInput(
          `${name}: tensor ${JSON.stringify(tensor.name)} holds ${Number.isNaN(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf"} at element ${start + i}; refusing to merge non-finite weights`,
          undefined,
          { model: name, tensor: tensor.name, element: start + i },
        );
      }
    }
    this.bytesDone += bytes.byteLength;
    this.reportStep(tensor);
    return values;
  }

  /**
   * The one call into the method per tensor: its reads, decoded and checked, and its results,
   * encoded into the anchor's dtype and placed in one output buffer (a view of the results when
   * a single float piece covers the tensor in the anchor's own dtype).
   */
  private async mergeByMethod(p: MergedTensor): Promise<Uint8Array> {
    const t = p.tensor;
    const f64 = t.dtype === "F64";
    const width = byteWidth(t);
    const step = this.canChunk(p) ? this.chunkElements : Math.max(1, t.elements);
    const chunks: Array<{ start: number; count: number }> = [];
    for (let start = 0; start < t.elements; start += step) chunks.push({ start, count: Math.min(step, t.elements - start) });
    let whole: Uint8Array | null = null;
    let out: Uint8Array | null = null;
    const merge: TensorMerge = {
      name: t.name,
      elements: t.elements,
      inputs: p.inputs,
      params: this.plan.params,
      f64,
      chunks,
      read: (input, start, count) => this.readValues(p.inputs[input].model, p.inputs[input].tensor, f64, start, count),
      readBase: (start, count) => {
        invariant(p.baseTensor, `${p.method} tensor ${t.name} planned without a base tensor`);
        return this.readValues(BASE_MODEL_INDEX, p.baseTensor, f64, start, count);
      },
      alloc: (count) => (f64 ? new Float64Array(count) : new Float32Array(count)),
      emit: (start, values) => {
        const bytes = encodeChecked(p, values);
        if (start === 0 && values.length === t.elements && !out) whole = bytes;
        else {
          out ??= new Uint8Array(t.elements * width);
          out.set(bytes, start * width);
        }
      },
    };
    await methodOf(p).mergeTensor(merge);
    return whole ?? out ?? new Uint8Array(0);
  }

  /** The method's fused weighted-sum kernel when it has one and the tensor is not F64. */
  fusedOf(p: PlannedTensor): FusedWeightedSum | undefined {
    return p.action === "merge" && p.tensor.dtype !== "F64" ? methodOf(p).fusedWeightedSum : undefined;
  }

  /** A chunk with non-finite results: name the first non-finite input, else report the overflow. */
  async refuseChunk(p: MergedTensor, start: number, count: number, encoded: Uint8Array): Promise<never> {
    for (const x of p.inputs) await this.readValues(x.model, x.tensor, false, start, count);
    throw overflow(p, countNonFinite(encoded, p.tensor.dtype));
  }

  private merge(p: MergedTensor): Promise<Uint8Array> {
    const kernel = this.fusedOf(p);
    return kernel ? this.fused.whole(p, kernel) : this.mergeByMethod(p);
  }

  private planned(tensor: TensorInfo): PlannedTensor {
    this.checkCancelled();
    const p = this.byName.get(tensor.name);
    invariant(p, `tensor ${tensor.name} is not one of the anchor's`);
    if (p.action === "merge") invariant(!this.merging, `tensor ${tensor.name} was requested while ${this.merging} was being merged`);
    return p;
  }

  private finished(tensor: TensorInfo): void {
    // writeOnnxRewrite asks twice for varint-encoded tensors beyond its cache (once to size the
    // file, once to write it): merging is deterministic, so the second answer is the same bytes.
    if (!this.produced.has(tensor.name)) this.done++;
    this.produced.add(tensor.name);
    this.report(`merged ${tensor.name} (${this.done}/${this.plan.mergedCount})`);
  }

  async getMergedTensorBytes(tensor: TensorInfo): Promise<Uint8Array> {
    const p = this.planned(tensor);
    if (p.action === "copy") return this.io.readTensor(0, p.tensor);
    this.merging = tensor.name;
    let bytes: Uint8Array;
    try {
      bytes = await this.merge(p);
    } finally {
      this.merging = null;
    }
    this.finished(tensor);
    return bytes;
  }

  async *mergedTensorChunks(tensor: TensorInfo): AsyncGenerator<Uint8Array> {
    const p = this.planned(tensor);
    if (p.action === "copy") {
      yield await this.io.readTensor(0, p.tensor);
      return;
    }
    this.merging = tensor.name;
    try {
      const kernel = this.fusedOf(p);
      if (kernel) {
        for await (const { bytes } of this.fused.chunks(p, kernel, true)) yield bytes;
      } else yield await this.merge(p);
    } finally {
      this.merging = null;
    }
    this.finished(tensor);
  }

  get mergedTensorsDone(): number {
    return this.done;
  }

  recycle(bytes: Uint8Array): void {
    if (!this.fused.giveBack(bytes)) this.outputs.recycle(bytes);
  }

  finish(): void {
    this.checkCancelled();
    invariant(this.done === this.plan.mergedCount, `${this.plan.mergedCount - this.done} merged tensor(s) were never written`);
    this.options.onProgress?.(1, `merged ${this.plan.mergedCount} tensors, copied ${this.plan.copiedCount}`);
  }

  dispose(): void {
    // Not while a tensor is being merged (nor, the stream checks, while a read may land).
    if (!this.merging) this.fused.dispose();
  }
}

/** Encodes into the anchor's dtype; returns the bytes (a view of `values` when no conversion is needed). */
function encodeChecked(p: PlannedTensor, values: FloatArray): Uint8Array {
  const dtype = p.tensor.dtype;
  const same = (dtype === "F32" && values instanceof Float32Array) || (dtype === "F64" && values instanceof Float64Array);
  const bytes = same ? new Uint8Array(values.buffer, values.byteOffset, values.byteLength) : encodeFromFloats(values, dtype);
  const bad = countNonFinite(bytes, p.tensor.dtype);
  if (bad > 0) throw overflow(p, bad);
  return bytes;
}

function overflow(p: PlannedTensor, bad: number): DomainError {
  return badInput(
    `merged tensor ${JSON.stringify(p.tensor.name)} overflows ${p.tensor.dtype}: ${bad} value(s) exceed its largest finite number; lower lambda or merge into an anchor with a wider dtype`,
    undefined,
    { tensor: p.tensor.name, dtype: p.tensor.dtype },
  );
}
