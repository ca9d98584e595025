import { DomainError, badInput, invariant } from "../errors";
import type { TensorInfo } from "../structure/types";
import { DTYPE_BYTES } from "../structure/types";
import { decodeInto } from "./decodeFloats";
import { dropStreamKey, dropThreshold } from "./dropMask";
import { countNonFinite, encodeFromFloats } from "./encodeFloats";
import { FloatArray, viewAs } from "./floatArrays";
import { createLayerwiseAccumulator, returnLayerwiseAccumulator, takeLayerwiseAccumulator, type LayerwiseAccumulator } from "./layerwiseAccumulator";
import { addWeighted, addWeightedDelta, addWeightedDroppedDelta, applyTaskVector } from "./mergeKernels";
import { OutputPool } from "./outputPool";
import { OutputSlots } from "./outputSlots";
import type { MergePlan, PlannedTensor } from "./planMerge";
import { tiesMerge } from "./tiesMerge";

/** Model index of the base model in `MergeIo` calls. */
export const BASE_MODEL_INDEX = -1;

/**
 * Where tensor data comes from; keeps the executor independent of ONNX and safetensors.
 * Model indexes: 0 = anchor, 1..n = contributors in plan order, -1 = base.
 */
export interface MergeIo {
  /** Little-endian bytes of the whole tensor in its own dtype (typed ONNX fields decoded). */
  readTensor(modelIndex: number, tensor: TensorInfo): Promise<Uint8Array>;
  /**
   * Optional: bytes of elements [elementStart, elementStart + elementCount). When given, large
   * LAYERWISE / TASK_ARITHMETIC / DARE tensors are merged chunk by chunk, so memory per input is
   * one chunk rather than one tensor.
   */
  readTensorRange?(modelIndex: number, tensor: TensorInfo, elementStart: number, elementCount: number): Promise<Uint8Array>;
  /**
   * Optional, fastest: for a tensor stored as contiguous little-endian bytes of its dtype, a
   * reader that copies elements into a buffer the executor owns; null for other encodings. With
   * it, LAYERWISE merges reuse two read buffers for the whole merge and keep the next read in
   * flight while computing on the current one; tensors whose inputs all have readers are chunked.
   */
  rangeReader?(modelIndex: number, tensor: TensorInfo): RangeReader | null;
}

/** Copies the bytes of elements [elementStart, elementStart + elementCount) into `into` (exactly that long). */
export type RangeReader = (elementStart: number, elementCount: number, into: Uint8Array) => Promise<void>;

export interface MergeExecutionOptions {
  /** Fraction of the merge's input bytes read so far (0..1), and what is being done. */
  onProgress?(fraction: number, message: string): void;
  signal?: AbortSignal;
  /** Elements per chunk when ranges can be read (default 2^17: 512 KiB of float32 per input, so a chunk of every input and the accumulator stay in the CPU caches). */
  chunkElements?: number;
  /** LAYERWISE arithmetic: WebAssembly SIMD or scalar JavaScript (default: SIMD when available). Same bits either way. */
  kernels?: "simd" | "js";
  /**
   * Names of the merged tensors in the order `getMergedTensorBytes` will ask for them (the
   * rewriter's: anchor file order). A hint: it lets the next tensor's first read start while
   * this one finishes; another order only wastes that read.
   */
  requestOrder?: readonly string[];
}

export interface MergeExecution {
  /**
   * The output bytes of one anchor tensor, in the anchor's dtype: merged for the plan's merged
   * tensors, the anchor's own bytes for copied ones. This is the callback format rewriters take.
   * Inputs are read, merged and released inside the call: nothing is kept between tensors.
   * Calls must not overlap (the rewriters await each): they share the merge's read buffers.
   */
  getMergedTensorBytes(tensor: TensorInfo): Promise<Uint8Array>;
  /**
   * The same bytes as `getMergedTensorBytes`, in pieces, in order: a LAYERWISE tensor chunk by
   * chunk, straight from the accumulator's memory, so no tensor-sized buffer is made (other
   * tensors come as one piece). Every piece must be handed to `recycle` once nothing reads it;
   * until then its memory is not reused (a merge whose pieces are not recycled copies instead).
   * The iteration must finish (or be abandoned) before the next tensor is asked for.
   */
  mergedTensorChunks(tensor: TensorInfo): AsyncIterable<Uint8Array>;
  /** Merged tensors produced so far. */
  readonly mergedTensorsDone: number;
  /** Checks every merged tensor was produced and reports progress 1. */
  finish(): void;
  /**
   * Gives the merge's working memory back for the next merge on this thread. Call it once the
   * output is written (or abandoned) and nothing reads the pieces any more; the execution must
   * not be used afterwards. Optional: without it the memory is left to the garbage collector.
   */
  dispose(): void;
  /**
   * Hands back bytes returned by getMergedTensorBytes once nothing reads them any more (the file
   * sink calls this after writing them), so later tensors reuse the memory. Optional; other
   * buffers, or pieces of one, are ignored.
   */
  recycle(bytes: Uint8Array): void;
}

export const DEFAULT_CHUNK_ELEMENTS = 1 << 17;

/** Least time between two progress reports from inside a tensor. */
const PROGRESS_STEP_MS = 20;

function cancelled(): DomainError {
  return new DomainError("CANCELLED", "merge cancelled");
}

function byteWidth(t: TensorInfo): number {
  return DTYPE_BYTES[t.dtype];
}

/**
 * Streams a planned merge (plan first, then stream, as mergekit): each call to
 * `getMergedTensorBytes` reads one tensor's inputs one at a time (or one chunk of each), folds
 * them into an accumulator in the working precision and encodes the result into the anchor's
 * dtype. Peak memory is a few tensor-sized arrays (a few chunk-sized ones when chunking),
 * whatever the number of models.
 *
 * A NaN or Inf in any input of a merged tensor, or a merged value that overflows the anchor's
 * dtype, refuses the merge with BAD_USER_INPUT naming model and tensor: a non-finite weight
 * would silently break every prediction of the merged model. Copied tensors are not inspected.
 */
export function executeMerge(plan: MergePlan, io: MergeIo, options: MergeExecutionOptions = {}): MergeExecution {
  const byName = new Map<string, PlannedTensor>(plan.tensors.map((p) => [p.tensor.name, p]));
  const produced = new Set<string>();
  const chunkElements = Math.max(1, Math.floor(options.chunkElements ?? DEFAULT_CHUNK_ELEMENTS));
  // TIES reads its contributors twice (tiesMerge.ts); progress counts what is really read.
  const totalBytes = plan.tensors.reduce((sum, p) => {
    if (p.action !== "merge") return sum;
    const inputs = p.inputs.reduce((s, x) => s + x.tensor.elements * byteWidth(x.tensor), 0);
    const base = p.baseTensor ? p.baseTensor.elements * byteWidth(p.baseTensor) : 0;
    return sum + (p.method === "TIES" && p.baseTensor ? 2 * inputs : inputs) + base;
  }, 0);
  let bytesDone = 0;
  let mergedTensorsDone = 0;
  let merging: string | null = null;
  const outputs = new OutputPool();

  const checkCancelled = (): void => {
    if (options.signal?.aborted) throw cancelled();
  };
  const report = (message: string): void => {
    options.onProgress?.(totalBytes > 0 ? Math.min(1, bytesDone / totalBytes) : 1, message);
  };
  // Progress within a tensor: at most every PROGRESS_STEP_MS, so the hot loop (thousands of
  // chunk reads a second) does not build a message per read. Every tensor still reports its end.
  let lastStepReport = 0;
  const reportStep = (tensor: TensorInfo): void => {
    if (!options.onProgress) return;
    const now = performance.now();
    if (now - lastStepReport < PROGRESS_STEP_MS) return;
    lastStepReport = now;
    report(`merging ${tensor.name} (${mergedTensorsDone + 1}/${plan.mergedCount})`);
  };
  const modelName = (index: number): string => (index === BASE_MODEL_INDEX ? plan.baseName ?? "base" : plan.modelNames[index]);

  const readerOf = (model: number, tensor: TensorInfo): RangeReader | null => (io.rangeReader ? io.rangeReader(model, tensor) : null);

  /** Bytes of elements [start, start + count) in a buffer of their own (callers may hold several). */
  async function fetchFresh(model: number, tensor: TensorInfo, start: number, count: number): Promise<Uint8Array> {
    const reader = readerOf(model, tensor);
    if (reader) {
      const into = new Uint8Array(count * byteWidth(tensor));
      await reader(start, count, into);
      return into;
    }
    if (start === 0 && count === tensor.elements) return io.readTensor(model, tensor);
    invariant(io.readTensorRange, `tensor ${tensor.name} was chunked without a way to read ranges`);
    return io.readTensorRange(model, tensor, start, count);
  }

  /** Chunking needs every input of the tensor readable by range. */
  const canChunk = (p: Extract<PlannedTensor, { action: "merge" }>): boolean =>
    io.readTensorRange !== undefined ||
    (p.inputs.every((x) => readerOf(x.model, x.tensor) !== null) && (!p.baseTensor || readerOf(BASE_MODEL_INDEX, p.baseTensor) !== null));

  /** Reads, decodes into the working precision and checks elements [start, start + count). */
  async function readValues(model: number, tensor: TensorInfo, f64: boolean, start: number, count: number): Promise<FloatArray> {
    checkCancelled();
    const bytes = await fetchFresh(model, tensor, start, count);
    checkCancelled();
    const expected = count * byteWidth(tensor);
    if (bytes.byteLength !== expected) {
      throw badInput(`${modelName(model)}: tensor ${JSON.stringify(tensor.name)} gave ${bytes.byteLength} bytes of data where ${count} ${tensor.dtype} elements need ${expected}`);
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
        throw badInput(
          `${modelName(model)}: tensor ${JSON.stringify(tensor.name)} holds ${Number.isNaN(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf"} at element ${start + i}; refusing to merge non-finite weights`,
          undefined,
          { model: modelName(model), tensor: tensor.name, element: start + i },
        );
      }
    }
    bytesDone += bytes.byteLength;
    reportStep(tensor);
    return values;
  }

  async function mergeChunk(p: Extract<PlannedTensor, { action: "merge" }>, f64: boolean, start: number, count: number): Promise<FloatArray> {
    const acc = f64 ? new Float64Array(count) : new Float32Array(count);
    if (p.method === "LAYERWISE") {
      for (const x of p.inputs) addWeighted(acc, await readValues(x.model, x.tensor, f64, start, count), x.weight);
      return acc;
    }
    invariant(p.baseTensor, `${p.method} tensor ${p.tensor.name} planned without a base tensor`);
    const base = await readValues(BASE_MODEL_INDEX, p.baseTensor, f64, start, count);
    const lambda = plan.params.lambda;
    if (p.method === "TASK_ARITHMETIC") {
      for (const x of p.inputs) addWeightedDelta(acc, await readValues(x.model, x.tensor, f64, start, count), base, x.weight);
    } else {
      invariant(p.method === "DARE", `unexpected chunked method ${p.method}`);
      const { dropRate, seed } = plan.params;
      for (const x of p.inputs) {
        const drop = { key: dropStreamKey(seed, p.tensor.name, x.model), threshold: dropThreshold(dropRate), scale: 1 / (1 - dropRate), start };
        addWeightedDroppedDelta(acc, await readValues(x.model, x.tensor, f64, start, count), base, x.weight, drop);
      }
    }
    applyTaskVector(acc, base, lambda);
    return acc;
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

  // The LAYERWISE fast path's arithmetic and read buffers, made at its first tensor and reused:
  // two chunks of reads in flight and one accumulator, whatever the number of models.
  let accumulator: LayerwiseAccumulator | undefined;
  // Reads alternate between the two read slots across tensors: one is computed on while the
  // other is filled, including the first read of the next tensor (`ahead`).
  let readSeq = 0;
  let ahead: { name: string; reads: LayerwiseReads; first: Promise<Uint8Array> } | null = null;
  const nextRequested = new Map<string, PlannedTensor>();
  if (options.requestOrder) {
    const order = options.requestOrder.map((name) => byName.get(name)).filter((p): p is PlannedTensor => p !== undefined && p.action === "merge");
    order.forEach((p, i) => i + 1 < order.length && nextRequested.set(p.tensor.name, order[i + 1]));
  }

  interface LayerwiseReads {
    acc: LayerwiseAccumulator;
    jobs: Array<{ start: number; count: number; input: number }>;
    issue(j: number): Promise<Uint8Array>;
  }

  const isLayerwise32 = (p: PlannedTensor): p is Extract<PlannedTensor, { action: "merge" }> =>
    p.action === "merge" && p.method === "LAYERWISE" && p.tensor.dtype !== "F64";

  /** The read jobs of one LAYERWISE tensor: chunk by chunk, every input in order. */
  function layerwiseReads(p: Extract<PlannedTensor, { action: "merge" }>): LayerwiseReads {
    const t = p.tensor;
    const step = canChunk(p) ? chunkElements : t.elements;
    accumulator ??= takeLayerwiseAccumulator(chunkElements, options.kernels);
    // A tensor that cannot be read by range and exceeds a chunk gets scalar buffers of its size.
    const acc = step <= accumulator.capacity ? accumulator : createLayerwiseAccumulator(step, "js");
    const readers = p.inputs.map((x) => readerOf(x.model, x.tensor));
    const jobs: LayerwiseReads["jobs"] = [];
    for (let start = 0; start < t.elements; start += step) {
      for (let input = 0; input < p.inputs.length; input++) jobs.push({ start, count: Math.min(step, t.elements - start), input });
    }
    const issue = (j: number): Promise<Uint8Array> => {
      const { start, count, input } = jobs[j];
      const x = p.inputs[input];
      const reader = readers[input];
      let read: Promise<Uint8Array>;
      if (reader) {
        const into = acc.readBuffer((readSeq++ & 1) as 0 | 1, count * byteWidth(x.tensor));
        read = reader(start, count, into).then(() => into);
      } else read = fetchFresh(x.model, x.tensor, start, count);
      // Settled later by the await that uses it, or dropped when an earlier job throws.
      read.catch(() => undefined);
      return read;
    };
    return { acc, jobs, issue };
  }

  /** Settles a read-ahead that will not be used, so its slot can be filled again. */
  async function dropAhead(): Promise<void> {
    const pending = ahead;
    ahead = null;
    await pending?.first.catch(() => undefined);
  }

  // Output slots handed out by mergedTensorChunks (views of the shared accumulator's memory)
  // until `recycle` gives them back.
  const slots = new OutputSlots();

  /**
   * LAYERWISE in float32, the default and hot path: per chunk, every input is decoded and
   * accumulated in one pass from its bytes, then encoded with one fused non-finite check
   * (layerwiseAccumulator.ts; SIMD when available). The next read is issued before the current
   * one is computed on, so file reads overlap arithmetic; with `requestOrder`, the last chunk of a
   * tensor overlaps the first read of the next one.
   *
   * Yields each encoded chunk: with `handOut`, in an output slot of its own (a view the caller
   * must recycle), else in the private slot, valid until the next chunk.
   *
   * Non-finite inputs are found from the result: a NaN or ±Inf in any input makes its element
   * of the sum non-finite too (Inf·0 and Inf − Inf are NaN), so a finite chunk had finite inputs.
   * When a chunk is not finite its inputs are read again and checked in order, which gives the
   * same error as checking each input as it is read.
   */
  async function* layerwise32Chunks(p: Extract<PlannedTensor, { action: "merge" }>, handOut: boolean): AsyncGenerator<{ start: number; bytes: Uint8Array }> {
    const t = p.tensor;
    let reads: LayerwiseReads;
    let next: Promise<Uint8Array>;
    if (ahead && ahead.name === t.name) {
      ({ reads, first: next } = ahead);
      ahead = null;
    } else {
      await dropAhead();
      reads = layerwiseReads(p);
      next = reads.issue(0);
    }
    const { acc, jobs, issue } = reads;
    const shared = acc === accumulator;
    let settled = false;
    let slot = 0;
    try {
      for (let j = 0; j < jobs.length; j++) {
        checkCancelled();
        const { start, count, input } = jobs[j];
        const x = p.inputs[input];
        const bytes = await next;
        checkCancelled();
        if (j + 1 < jobs.length) next = issue(j + 1);
        else {
          const following = nextRequested.get(t.name);
          if (following && isLayerwise32(following)) {
            const followingReads = layerwiseReads(following);
            ahead = { name: following.tensor.name, reads: followingReads, first: followingReads.issue(0) };
          }
        }
        const expected = count * byteWidth(x.tensor);
        if (bytes.byteLength !== expected) {
          throw badInput(`${modelName(x.model)}: tensor ${JSON.stringify(x.tensor.name)} gave ${bytes.byteLength} bytes of data where ${count} ${x.tensor.dtype} elements need ${expected}`);
        }
        if (input === 0) acc.useSlot((slot = handOut && shared ? slots.free(acc.outputSlots) : 0));
        acc.add(bytes, x.tensor.dtype, x.weight, input === 0);
        bytesDone += bytes.byteLength;
        reportStep(t);
        if (input < p.inputs.length - 1) continue;
        const encoded = acc.finishInSlot(t.dtype);
        if (encoded.nonFinite) await refuseChunk(p, start, count, encoded.bytes);
        let out = encoded.bytes;
        if (slot !== 0) slots.handOut(slot, out);
        else if (handOut) out = out.slice(); // every slot is still being written: a copy of its own
        yield { start, bytes: out };
      }
      settled = true;
    } finally {
      if (!settled) {
        // A read still in flight would land in a buffer the next tensor uses.
        await next.catch(() => undefined);
        await dropAhead();
      }
    }
  }

  /** A whole LAYERWISE float32 tensor in one buffer (from the pool: every byte is overwritten). */
  async function mergeLayerwise32(p: Extract<PlannedTensor, { action: "merge" }>): Promise<Uint8Array> {
    const width = byteWidth(p.tensor);
    const out = outputs.take(p.tensor.elements * width);
    for await (const { start, bytes } of layerwise32Chunks(p, false)) out.set(bytes, start * width);
    return out;
  }

  /** A chunk with non-finite results: name the first non-finite input, else report the overflow. */
  async function refuseChunk(p: Extract<PlannedTensor, { action: "merge" }>, start: number, count: number, encoded: Uint8Array): Promise<never> {
    for (const x of p.inputs) await readValues(x.model, x.tensor, false, start, count);
    throw overflow(p, countNonFinite(encoded, p.tensor.dtype));
  }

  async function merge(p: Extract<PlannedTensor, { action: "merge" }>): Promise<Uint8Array> {
    const t = p.tensor;
    const f64 = t.dtype === "F64";
    const width = byteWidth(t);
    if (p.method === "TIES") {
      invariant(p.baseTensor, `TIES tensor ${t.name} planned without a base tensor`);
      const base = await readValues(BASE_MODEL_INDEX, p.baseTensor, f64, 0, t.elements);
      const merged = await tiesMerge(
        base,
        p.inputs.map((x) => ({ weight: x.weight, read: () => readValues(x.model, x.tensor, f64, 0, t.elements) })),
        { density: plan.params.density, lambda: plan.params.lambda },
      );
      return encodeChecked(p, merged);
    }
    if (p.method === "LAYERWISE" && !f64) return mergeLayerwise32(p);
    if (!canChunk(p) || t.elements <= chunkElements) return encodeChecked(p, await mergeChunk(p, f64, 0, t.elements));
    const out = new Uint8Array(t.elements * width);
    for (let start = 0; start < t.elements; start += chunkElements) {
      const count = Math.min(chunkElements, t.elements - start);
      out.set(encodeChecked(p, await mergeChunk(p, f64, start, count)), start * width);
    }
    return out;
  }

  const planned = (tensor: TensorInfo): PlannedTensor => {
    checkCancelled();
    const p = byName.get(tensor.name);
    invariant(p, `tensor ${tensor.name} is not one of the anchor's`);
    if (p.action === "merge") invariant(!merging, `tensor ${tensor.name} was requested while ${merging} was being merged`);
    return p;
  };
  const done = (tensor: TensorInfo): void => {
    // writeOnnxRewrite asks twice for varint-encoded tensors beyond its cache (once to size the
    // file, once to write it): merging is deterministic, so the second answer is the same bytes.
    if (!produced.has(tensor.name)) mergedTensorsDone++;
    produced.add(tensor.name);
    report(`merged ${tensor.name} (${mergedTensorsDone}/${plan.mergedCount})`);
  };

  return {
    async getMergedTensorBytes(tensor: TensorInfo): Promise<Uint8Array> {
      const p = planned(tensor);
      if (p.action === "copy") return io.readTensor(0, p.tensor);
      merging = tensor.name;
      let bytes: Uint8Array;
      try {
        bytes = await merge(p);
      } finally {
        merging = null;
      }
      done(tensor);
      return bytes;
    },
    async *mergedTensorChunks(tensor: TensorInfo): AsyncGenerator<Uint8Array> {
      const p = planned(tensor);
      if (p.action === "copy") {
        yield await io.readTensor(0, p.tensor);
        return;
      }
      merging = tensor.name;
      try {
        if (isLayerwise32(p)) {
          for await (const { bytes } of layerwise32Chunks(p, true)) yield bytes;
        } else yield await merge(p);
      } finally {
        merging = null;
      }
      done(tensor);
    },
    get mergedTensorsDone() {
      return mergedTensorsDone;
    },
    recycle(bytes: Uint8Array): void {
      if (!slots.giveBack(bytes)) outputs.recycle(bytes);
    },
    finish(): void {
      checkCancelled();
      invariant(mergedTensorsDone === plan.mergedCount, `${plan.mergedCount - mergedTensorsDone} merged tensor(s) were never written`);
      options.onProgress?.(1, `merged ${plan.mergedCount} tensors, copied ${plan.copiedCount}`);
    },
    dispose(): void {
      // Not while a read may still land in its buffers, nor a tensor is being merged.
      if (!accumulator || merging || ahead) return;
      returnLayerwiseAccumulator(accumulator);
      accumulator = undefined;
    },
  };
}
