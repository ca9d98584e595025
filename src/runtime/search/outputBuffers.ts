import { IdleSweep } from "./idleSweep";

/** What a thread keeps of spare output memory. */
const SPARE_BYTES = 128 << 20;
/** How long spare memory is kept unused. */
const SPARE_IDLE_MS = 30_000;

/**
 * Memory onnxruntime writes a search's outputs into, kept per thread and handed out again by
 * size. With a fresh output per run, a large output (a 512² image's 19 score planes, 20 MB)
 * page-faulted on a third to half of the runs (30 against 85 ms per run of the 512² benchmark
 * net); written into recycled memory it does not. An output's buffer is given back once the
 * output is reduced (on the candidate's thread, or by the reducer thread, which sends it back).
 * At most `maxBytes` are kept, and nothing once no buffer was taken for `idleMs` (a pool thread
 * outlives its searches).
 */
export class OutputBuffers {
  private readonly spare = new Map<number, ArrayBuffer[]>();
  private bytes = 0;
  private readonly idle: IdleSweep;

  constructor(
    private readonly maxBytes = SPARE_BYTES,
    idleMs = SPARE_IDLE_MS,
  ) {
    this.idle = new IdleSweep(idleMs, () => this.clear());
  }

  /** A buffer of `byteLength` bytes: a spare one when there is one (its old contents left in it). */
  take(byteLength: number): ArrayBuffer {
    this.idle.touch();
    const b = this.spare.get(byteLength)?.pop();
    if (!b) return new ArrayBuffer(byteLength);
    this.bytes -= byteLength;
    return b;
  }

  /**
   * Keeps `buffer` for a later `take` of its size. A detached or shared buffer is not kept, nor
   * one of another realm (under a test runner's sandbox, onnxruntime's own buffers are): a typed
   * array made over it would not be the Float32Array onnxruntime accepts.
   */
  give(buffer: ArrayBufferLike): void {
    if (!(buffer instanceof ArrayBuffer)) return;
    const n = buffer.byteLength;
    if (n === 0 || this.bytes + n > this.maxBytes) return;
    let list = this.spare.get(n);
    if (!list) this.spare.set(n, (list = []));
    if (list.includes(buffer as ArrayBuffer)) return;
    list.push(buffer as ArrayBuffer);
    this.bytes += n;
  }

  /** Bytes kept. */
  get heldBytes(): number {
    return this.bytes;
  }

  clear(): void {
    this.spare.clear();
    this.bytes = 0;
    this.idle.cancel();
  }
}
