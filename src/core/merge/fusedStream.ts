import { badInput } from "../errors";
import type { TensorInfo } from "../structure/types";
import { DTYPE_BYTES } from "../structure/types";
import { READ_SLOTS, type LayerwiseAccumulator, type MixInput } from "./layerwiseAccumulator";
import type { RangeReader } from "./mergeIo";
import type { FusedWeightedSum } from "./methods/mergeMethod";
import type { OutputPool } from "./outputPool";
import { OutputSlots } from "./outputSlots";
import type { PlannedTensor } from "./planMerge";

type MergedTensor = Extract<PlannedTensor, { action: "merge" }>;

function byteWidth(t: TensorInfo): number {
  return DTYPE_BYTES[t.dtype];
}

/** What the fused stream needs of the merge's scheduler. */
export interface FusedStreamScheduler {
  readonly chunkElements: number;
  readonly kernels?: "simd" | "js";
  /** The merged tensor requested after each one (the rewriter's order), for the read-ahead. */
  readonly nextRequested: ReadonlyMap<string, PlannedTensor>;
  readonly outputs: OutputPool;
  canChunk(p: MergedTensor): boolean;
  readerOf(model: number, tensor: TensorInfo): RangeReader | null;
  fetchFresh(model: number, tensor: TensorInfo, start: number, count: number): Promise<Uint8Array>;
  checkCancelled(): void;
  modelName(model: number): string;
  /** `bytes` of input were read for `tensor` (progress). */
  counted(bytes: number, tensor: TensorInfo): void;
  /** The fused kernel of a planned tensor's method, when it is to be used. */
  fusedOf(p: PlannedTensor): FusedWeightedSum | undefined;
  /** A chunk whose result is not finite: names the first non-finite input, else the overflow. */
  refuseChunk(p: MergedTensor, start: number, count: number, encoded: Uint8Array): Promise<never>;
}

/** The read jobs of one fused weighted-sum tensor: chunk by chunk, every input in order. */
interface LayerwiseReads {
  p: MergedTensor;
  acc: LayerwiseAccumulator;
  readers: Array<RangeReader | null>;
  jobs: Array<{ start: number; count: number; input: number }>;
}

/**
 * The streaming of a fused weighted sum (LAYERWISE's fast kernel): reads issued ahead of the
 * arithmetic into the accumulator's read slots, across tensors too, and results handed out in
 * output slots of the accumulator's memory.
 *
 * A class, not closures made per merge: its methods (the merge's hottest JavaScript) are then
 * optimized once per thread instead of once per merge.
 */
export class FusedStream {
  // The fused weighted-sum path's arithmetic and read buffers, made at its first tensor and
  // reused: its read slots and one accumulator, whatever the number of models.
  private accumulator: LayerwiseAccumulator | undefined;
  private accumulatorKernel: FusedWeightedSum | undefined;
  // Reads go round the read slots across tensors: one is computed on while the others are
  // filled, including the first read of the next tensor (`ahead`).
  private readSeq = 0;
  private ahead: { name: string; reads: LayerwiseReads; first: Promise<Uint8Array> } | null = null;
  // Output slots handed out by `chunks` with handOut (views of the shared accumulator's memory)
  // until `giveBack` has them back.
  private readonly slots = new OutputSlots();

  constructor(private readonly s: FusedStreamScheduler) {}

  /** The read jobs of one fused weighted-sum tensor: chunk by chunk, every input in order. */
  private layerwiseReads(p: MergedTensor, kernel: FusedWeightedSum): LayerwiseReads {
    const s = this.s;
    const t = p.tensor;
    const step = s.canChunk(p) ? s.chunkElements : t.elements;
    if (!this.accumulator) {
      this.accumulator = kernel.take(s.chunkElements, s.kernels);
      this.accumulatorKernel = kernel;
    }
    // A tensor that cannot be read by range and exceeds a chunk gets scalar buffers of its size.
    const acc = step <= this.accumulator.capacity ? this.accumulator : kernel.create(step, "js");
    const readers = p.inputs.map((x) => s.readerOf(x.model, x.tensor));
    const jobs: LayerwiseReads["jobs"] = [];
    for (let start = 0; start < t.elements; start += step) {
      for (let input = 0; input < p.inputs.length; input++) jobs.push({ start, count: Math.min(step, t.elements - start), input });
    }
    return { p, acc, readers, jobs };
  }

  /** Starts read job `j` of a tensor; resolves with its bytes. */
  private issue(reads: LayerwiseReads, j: number): Promise<Uint8Array> {
    const { start, count, input } = reads.jobs[j];
    const x = reads.p.inputs[input];
    const reader = reads.readers[input];
    let read: Promise<Uint8Array>;
    if (reader) {
      const into = reads.acc.readBuffer(this.readSeq++ % READ_SLOTS, count * byteWidth(x.tensor));
      read = reader(start, count, into).then(() => into);
    } else read = this.s.fetchFresh(x.model, x.tensor, start, count);
    // Settled later by the await that uses it, or dropped when an earlier job throws.
    read.catch(() => undefined);
    return read;
  }

  /** Settles a read-ahead that will not be used, so its slot can be filled again. */
  private async dropAhead(): Promise<void> {
    const pending = this.ahead;
    this.ahead = null;
    await pending?.first.catch(() => undefined);
  }

  /**
   * A fused weighted sum in float32 (LAYERWISE's fast kernel, the default and hot path): per
   * chunk, every input is decoded and accumulated in one pass from its bytes, then encoded with
   * one fused non-finite check (layerwiseAccumulator.ts; SIMD when available). The next read is issued before the current
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
  async *chunks(p: MergedTensor, kernel: FusedWeightedSum, handOut: boolean): AsyncGenerator<{ start: number; bytes: Uint8Array }> {
    const s = this.s;
    const t = p.tensor;
    let reads: LayerwiseReads;
    let first: Promise<Uint8Array>;
    const ahead = this.ahead;
    if (ahead && ahead.name === t.name) {
      ({ reads, first } = ahead);
      this.ahead = null;
    } else {
      await this.dropAhead();
      reads = this.layerwiseReads(p, kernel);
      first = this.issue(reads, 0);
    }
    const { acc, jobs } = reads;
    const shared = acc === this.accumulator;
    const inputs = p.inputs.length;
    // With few inputs, a chunk's reads are all kept until its last one has come and the chunk is
    // computed in one pass (mixInSlot); more inputs are added one at a time as they come.
    const mixed: MixInput[] | null = inputs < READ_SLOTS ? [] : null;
    // Reads in flight, in job order (pending[0] is the next job's), with the reads kept for the
    // chunk and the one being used, fill at most READ_SLOTS slots.
    const pending: Array<Promise<Uint8Array>> = [first];
    let issued = 1;
    let settled = false;
    let slot = 0;
    try {
      for (let j = 0; j < jobs.length; j++) {
        s.checkCancelled();
        const { start, count, input } = jobs[j];
        const x = p.inputs[input];
        const bytes = await pending[0];
        pending.shift();
        s.checkCancelled();
        while (issued < jobs.length && pending.length + (mixed?.length ?? 0) < READ_SLOTS - 1) pending.push(this.issue(reads, issued++));
        if (j + 1 === jobs.length) {
          const following = s.nextRequested.get(t.name);
          const followingKernel = following && s.fusedOf(following);
          if (following && followingKernel) {
            const followingReads = this.layerwiseReads(following as MergedTensor, followingKernel);
            this.ahead = { name: following.tensor.name, reads: followingReads, first: this.issue(followingReads, 0) };
          }
        }
        const expected = count * byteWidth(x.tensor);
        if (bytes.byteLength !== expected) {
          throw badInput(`${s.modelName(x.model)}: tensor ${JSON.stringify(x.tensor.name)} gave ${bytes.byteLength} bytes of data where ${count} ${x.tensor.dtype} elements need ${expected}`);
        }
        s.counted(bytes.byteLength, t);
        if (mixed) {
          mixed.push({ bytes, dtype: x.tensor.dtype, weight: x.weight });
          if (input < inputs - 1) continue;
          acc.useSlot((slot = handOut && shared ? this.slots.free(acc.outputSlots) : 0));
        } else {
          if (input === 0) acc.useSlot((slot = handOut && shared ? this.slots.free(acc.outputSlots) : 0));
          acc.add(bytes, x.tensor.dtype, x.weight, input === 0);
          if (input < inputs - 1) continue;
        }
        const encoded = mixed ? acc.mixInSlot(mixed.splice(0), t.dtype) : acc.finishInSlot(t.dtype);
        if (encoded.nonFinite) await s.refuseChunk(p, start, count, encoded.bytes);
        let out = encoded.bytes;
        if (slot !== 0) this.slots.handOut(slot, out);
        else if (handOut) out = out.slice(); // every slot is still being written: a copy of its own
        yield { start, bytes: out };
      }
      settled = true;
    } finally {
      if (!settled) {
        // A read still in flight would land in a buffer the next tensor uses.
        await Promise.all(pending.map((read) => read.catch(() => undefined)));
        await this.dropAhead();
      }
    }
  }

  /** A whole fused weighted-sum tensor in one buffer (from the pool: every byte is overwritten). */
  async whole(p: MergedTensor, kernel: FusedWeightedSum): Promise<Uint8Array> {
    const width = byteWidth(p.tensor);
    const out = this.s.outputs.take(p.tensor.elements * width);
    for await (const { start, bytes } of this.chunks(p, kernel, false)) out.set(bytes, start * width);
    return out;
  }

  /** Takes back a piece handed out by `chunks`; false for any other buffer. */
  giveBack(bytes: Uint8Array): boolean {
    return this.slots.giveBack(bytes);
  }

  /** Returns the accumulator for the next merge on this thread, unless a read may still land in it. */
  dispose(): void {
    if (!this.accumulator || this.ahead) return;
    this.accumulatorKernel?.give(this.accumulator);
    this.accumulator = undefined;
  }
}
