import { DomainError, badInput, invariant } from "../errors";
import type { TensorInfo } from "../structure/types";
import { DTYPE_BYTES } from "../structure/types";
import { decodeInto } from "./decodeFloats";
import { dropStreamKey, dropThreshold } from "./dropMask";
import { countNonFinite, encodeFromFloats } from "./encodeFloats";
import { FloatArray, viewAs } from "./floatArrays";
import { addWeighted, addWeightedDelta, addWeightedDroppedDelta, applyTaskVector } from "./mergeKernels";
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
}

export interface MergeExecutionOptions {
  /** Fraction of the merge's input bytes read so far (0..1), and what is being done. */
  onProgress?(fraction: number, message: string): void;
  signal?: AbortSignal;
  /** Elements per chunk when `readTensorRange` exists (default 2^20: 4 MiB of float32 per input). */
  chunkElements?: number;
}

export interface MergeExecution {
  /**
   * The output bytes of one anchor tensor, in the anchor's dtype: merged for the plan's merged
   * tensors, the anchor's own bytes for copied ones. This is the callback format rewriters take.
   * Inputs are read, merged and released inside the call: nothing is kept between tensors.
   */
  getMergedTensorBytes(tensor: TensorInfo): Promise<Uint8Array>;
  /** Merged tensors produced so far. */
  readonly mergedTensorsDone: number;
  /** Checks every merged tensor was produced and reports progress 1. */
  finish(): void;
}

export const DEFAULT_CHUNK_ELEMENTS = 1 << 20;

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

  const checkCancelled = (): void => {
    if (options.signal?.aborted) throw cancelled();
  };
  const report = (message: string): void => {
    options.onProgress?.(totalBytes > 0 ? Math.min(1, bytesDone / totalBytes) : 1, message);
  };
  const modelName = (index: number): string => (index === BASE_MODEL_INDEX ? plan.baseName ?? "base" : plan.modelNames[index]);

  /** Reads, decodes into the working precision and checks elements [start, start + count). */
  async function readValues(model: number, tensor: TensorInfo, f64: boolean, start: number, count: number): Promise<FloatArray> {
    checkCancelled();
    const whole = start === 0 && count === tensor.elements;
    const bytes = whole || !io.readTensorRange
      ? await io.readTensor(model, tensor)
      : await io.readTensorRange(model, tensor, start, count);
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
    report(`merging ${tensor.name} (${mergedTensorsDone + 1}/${plan.mergedCount})`);
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
    if (bad > 0) {
      throw badInput(
        `merged tensor ${JSON.stringify(p.tensor.name)} overflows ${p.tensor.dtype}: ${bad} value(s) exceed its largest finite number; lower lambda or merge into an anchor with a wider dtype`,
        undefined,
        { tensor: p.tensor.name, dtype: p.tensor.dtype },
      );
    }
    return bytes;
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
    if (!io.readTensorRange || t.elements <= chunkElements) return encodeChecked(p, await mergeChunk(p, f64, 0, t.elements));
    const out = new Uint8Array(t.elements * width);
    for (let start = 0; start < t.elements; start += chunkElements) {
      const count = Math.min(chunkElements, t.elements - start);
      out.set(encodeChecked(p, await mergeChunk(p, f64, start, count)), start * width);
    }
    return out;
  }

  return {
    async getMergedTensorBytes(tensor: TensorInfo): Promise<Uint8Array> {
      checkCancelled();
      const p = byName.get(tensor.name);
      invariant(p, `tensor ${tensor.name} is not one of the anchor's`);
      if (p.action === "copy") return io.readTensor(0, p.tensor);
      invariant(!produced.has(tensor.name), `tensor ${tensor.name} was merged twice`);
      const bytes = await merge(p);
      produced.add(tensor.name);
      mergedTensorsDone++;
      report(`merged ${tensor.name} (${mergedTensorsDone}/${plan.mergedCount})`);
      return bytes;
    },
    get mergedTensorsDone() {
      return mergedTensorsDone;
    },
    finish(): void {
      checkCancelled();
      invariant(mergedTensorsDone === plan.mergedCount, `${plan.mergedCount - mergedTensorsDone} merged tensor(s) were never written`);
      options.onProgress?.(1, `merged ${plan.mergedCount} tensors, copied ${plan.copiedCount}`);
    },
  };
}
