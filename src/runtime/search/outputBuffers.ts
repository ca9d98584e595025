import { IdleSweep } from "./idleSweep";

/** What a thread keeps of spare output memory. */
const SPARE_BYTES = 128 << 20;
/** How long spare memory is kept unused. */
const SPARE_IDLE_MS = 30_000;

/**
 * Memory onnxruntime writes a search's outputs into, kept per thread and handed out again by
 * size. With a fresh output per run, a large output (a 512² image's 19 score planes, 20 MB)
 * page-faulted on a third to half of the runs (30 against 85 ms per run of the 512² benchmark
 * net); written into recycled memory it does not. A buffer is given back after the run that
 * wrote it (when onnxruntime hands back a copy of it), or once the output it holds is reduced.
 * Only buffers this pool handed out are kept: a copy onnxruntime made is left to the garbage
 * collector while it is young. At most `maxBytes` are kept, and nothing once no buffer was taken
 * for `idleMs` (a pool thread outlives its searches).
 */
export class OutputBuffers {
  private readonly spare = new Map<number, ArrayBuffer[]>();
  private readonly issued = new WeakSet<ArrayBuffer>();
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
    if (!b) {
      const fresh = new ArrayBuffer(byteLength);
      this.issued.add(fresh);
      return fresh;
    }
    this.bytes -= byteLength;
    return b;
  }

  /** Whether `buffer` is one this pool handed out (and so one `give` keeps). */
  owns(buffer: ArrayBufferLike): boolean {
    return buffer instanceof ArrayBuffer && this.issued.has(buffer);
  }

  /**
   * Keeps `buffer` for a later `take` of its size, when this pool handed it out and it is not
   * detached.
   */
  give(buffer: ArrayBufferLike): void {
    if (!this.owns(buffer)) return;
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
