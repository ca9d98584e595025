import { invariant } from "../errors";
import type { DType } from "../structure/types";
import { DTYPE_BYTES } from "../structure/types";
import { anyNonFinite32, encodeHalfInto } from "./encodeFloats";
import { accumulateWeighted } from "./mergeKernels";
import { simdLayerwiseAccumulator } from "./simd/simdLayerwiseAccumulator";

/**
 * The float32 arithmetic of one LAYERWISE chunk (arithmetic in float32, rounded to the anchor's
 * dtype): inputs are added one at a time, anchor first, then the chunk is encoded.
 * The executor owns the I/O; this owns the buffers the arithmetic touches, so the SIMD version
 * can keep them inside WebAssembly memory, where reads land directly.
 */
export interface LayerwiseAccumulator {
  /** Most elements one chunk may hold. */
  readonly capacity: number;
  readonly kind: "simd" | "js";
  /**
   * A reusable buffer for reading an input chunk: slot 0..READ_SLOTS-1 (one being computed on
   * while the next ones are filled). Its contents are valid until the slot is requested again.
   */
  readBuffer(slot: number, byteLength: number): Uint8Array;
  /**
   * acc = (first ? 0 : acc) + w · x over the chunk, x decoded from `bytes` in `dtype` (any
   * floating dtype; F64 rounds to float32 first). Every input of a chunk has the same length.
   */
  add(bytes: Uint8Array, dtype: DType, weight: number, first: boolean): void;
  /**
   * Writes the chunk into `out` in the anchor's dtype (F32, F16 or BF16; out.byteLength fixes
   * the element count). Returns true when some output value is ±Inf or NaN.
   */
  finish(out: Uint8Array, dtype: DType): boolean;
  /**
   * Output slots 1..outputSlots-1 hold finished chunks for a writer to read in place (slot 0,
   * the default, is private: `finish` copies out of it). `useSlot` picks where the next chunk
   * (from its first `add`) accumulates; the slot's previous chunk is overwritten.
   */
  readonly outputSlots: number;
  useSlot(slot: number): void;
  /**
   * Encodes the chunk in the anchor's dtype inside its slot and returns a view of those bytes,
   * valid until the slot is used again, and whether some value is ±Inf or NaN. For F32 the view
   * is the accumulator itself: nothing is copied.
   */
  finishInSlot(dtype: DType): { bytes: Uint8Array; nonFinite: boolean };
  /**
   * The whole chunk at once: `add` of every input in order (the first with `first`), then
   * `finishInSlot(dtype)`, with the same bits; the SIMD accumulator does it in one pass where
   * every input lies in its read slots and the dtypes allow.
   */
  mixInSlot(inputs: readonly MixInput[], dtype: DType): { bytes: Uint8Array; nonFinite: boolean };
}

/** One input of a chunk: its bytes, their dtype and its weight. */
export interface MixInput {
  bytes: Uint8Array;
  dtype: DType;
  weight: number;
}

/** `mixInSlot` as its definition: every input added in order, then the chunk encoded. */
export function mixByAdding(acc: LayerwiseAccumulator, inputs: readonly MixInput[], dtype: DType): { bytes: Uint8Array; nonFinite: boolean } {
  inputs.forEach((x, i) => acc.add(x.bytes, x.dtype, x.weight, i === 0));
  return acc.finishInSlot(dtype);
}

/**
 * Slot 0 (private) and 24 for chunks queued or being written: the file sink holds up to 4 MiB
 * (runMerge's maxPendingBytes) plus the chunk that crossed it, which at the default chunk is 9
 * float32 or 17 16-bit chunks.
 */
export const OUTPUT_SLOTS = 25;

/**
 * Read slots: the input chunk being used, the chunks kept for it (a chunk of up to
 * READ_SLOTS - 1 inputs is summed in one pass once all have been read: `mixInSlot`) and the
 * reads issued ahead of it.
 */
export const READ_SLOTS = 5;

/**
 * Accumulators given back by finished merges, for the next merge on this thread: a fresh one is
 * ~20 MiB of new memory at the default chunk, and first touches of new pages (page faults, and
 * zeroing) cost more than a small merge's arithmetic on a virtual machine. At most one per
 * (kind, capacity) is kept.
 */
const spares = new Map<string, LayerwiseAccumulator>();

/** A spare accumulator of this capacity, else a new one (see createLayerwiseAccumulator). */
export function takeLayerwiseAccumulator(capacity: number, kind?: "simd" | "js"): LayerwiseAccumulator {
  for (const k of kind ? [kind] : (["simd", "js"] as const)) {
    const key = `${k}:${capacity}`;
    const spare = spares.get(key);
    if (spare) {
      spares.delete(key);
      return spare;
    }
  }
  return createLayerwiseAccumulator(capacity, kind);
}

/**
 * Gives an accumulator back for reuse. The caller must be done with it: no read landing in its
 * buffers and no output slot still being read.
 */
export function returnLayerwiseAccumulator(acc: LayerwiseAccumulator): void {
  spares.set(`${acc.kind}:${acc.capacity}`, acc);
}

/**
 * The SIMD accumulator when this runtime has WebAssembly SIMD (Node ≥ 16.4), else the scalar
 * one; `kind` forces one (tests compare both with the same goldens).
 */
export function createLayerwiseAccumulator(capacity: number, kind?: "simd" | "js"): LayerwiseAccumulator {
  if (kind !== "js") {
    const simd = simdLayerwiseAccumulator(capacity);
    if (simd) return simd;
    invariant(kind !== "simd", "WebAssembly SIMD is not available in this runtime");
  }
  return jsLayerwiseAccumulator(capacity);
}

/** Scalar kernels (mergeKernels.ts, encodeFloats.ts) on plain typed arrays. */
export function jsLayerwiseAccumulator(capacity: number): LayerwiseAccumulator {
  const reads: Uint8Array[] = Array.from({ length: READ_SLOTS }, () => new Uint8Array(0));
  const accs: Float32Array[] = [new Float32Array(capacity)];
  const halves: Uint16Array[] = [];
  let slot = 0;
  let count = 0;
  const encode = (out: Uint8Array, dtype: DType): boolean => {
    const values = accs[slot].subarray(0, count);
    invariant(out.byteLength === count * DTYPE_BYTES[dtype], `accumulator: ${out.byteLength} output bytes for ${count} ${dtype} elements`);
    if (dtype === "F32") {
      if (out.buffer !== values.buffer || out.byteOffset !== values.byteOffset) out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      return anyNonFinite32(values);
    }
    invariant(dtype === "F16" || dtype === "BF16", `accumulator: cannot encode ${dtype}`);
    return encodeHalfInto(values, dtype, new Uint16Array(out.buffer, out.byteOffset, count));
  };
  return {
    capacity,
    kind: "js",
    outputSlots: OUTPUT_SLOTS,
    readBuffer(slot, byteLength) {
      invariant(slot >= 0 && slot < READ_SLOTS, `accumulator: no read slot ${slot}`);
      if (reads[slot].byteLength < byteLength) reads[slot] = new Uint8Array(byteLength);
      return reads[slot].subarray(0, byteLength);
    },
    useSlot(next) {
      invariant(next >= 0 && next < OUTPUT_SLOTS, `accumulator: no output slot ${next}`);
      slot = next;
      accs[slot] ??= new Float32Array(capacity);
    },
    add(bytes, dtype, weight, first) {
      const n = bytes.byteLength / DTYPE_BYTES[dtype];
      if (first) count = n;
      invariant(n === count && n <= capacity, `accumulator: ${n} elements where the chunk has ${count} (capacity ${capacity})`);
      accumulateWeighted(accs[slot].subarray(0, n), bytes, dtype, weight, first);
    },
    finish(out, dtype) {
      return encode(out, dtype);
    },
    finishInSlot(dtype) {
      let bytes: Uint8Array;
      if (dtype === "F32") bytes = new Uint8Array(accs[slot].buffer, 0, count * 4);
      else {
        halves[slot] ??= new Uint16Array(capacity);
        bytes = new Uint8Array(halves[slot].buffer, 0, count * 2);
      }
      return { bytes, nonFinite: encode(bytes, dtype) };
    },
    mixInSlot(inputs, dtype) {
      return mixByAdding(this, inputs, dtype);
    },
  };
}
