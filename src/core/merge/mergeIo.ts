import type { TensorInfo } from "../structure/types";

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
   * tensors are merged chunk by chunk (every method), so memory per input is one chunk rather
   * than one tensor.
   */
  readTensorRange?(modelIndex: number, tensor: TensorInfo, elementStart: number, elementCount: number): Promise<Uint8Array>;
  /**
   * Optional, fastest: for a tensor stored as contiguous little-endian bytes of its dtype, a
   * reader that copies elements into a buffer the executor owns; null for other encodings. With
   * it, LAYERWISE (float32) merges reuse two read buffers for the whole merge and keep the next read in
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
  /** The fused weighted-sum kernel (LAYERWISE): WebAssembly SIMD or scalar JavaScript (default: SIMD when available). Same bits either way. */
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
