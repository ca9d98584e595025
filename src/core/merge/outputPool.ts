/**
 * Reuses the memory of merged tensors once the writer is done with them. A 100 MB model is a
 * few hundred output buffers of up to ~10 MB; fresh ones cost page faults, zeroing and garbage
 * collection on every tensor, where a handful of recycled ones are enough: the sink holds at
 * most two writes at a time.
 *
 * Only buffers handed out by `take` and given back whole (the same view object) are reused;
 * anything else passed to `recycle` is ignored, so a caller that kept a piece cannot see it
 * overwritten.
 */
export class OutputPool {
  private readonly free: Uint8Array[] = [];
  private readonly handedOut = new WeakMap<Uint8Array, Uint8Array>();
  private freeBytes = 0;

  /**
   * @param maxBytes bytes kept for reuse (larger buffers are left to the garbage collector)
   */
  constructor(private readonly maxBytes = 64 << 20) {}

  /** A buffer of exactly `length` bytes, with unspecified contents: the caller overwrites all of it. */
  take(length: number): Uint8Array {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i];
      if (b.byteLength >= length && (best < 0 || b.byteLength < this.free[best].byteLength)) best = i;
    }
    let base: Uint8Array;
    if (best >= 0) {
      base = this.free.splice(best, 1)[0];
      this.freeBytes -= base.byteLength;
    } else base = new Uint8Array(length);
    const view = base.byteLength === length ? base : base.subarray(0, length);
    this.handedOut.set(view, base);
    return view;
  }

  /** Gives back a buffer from `take` that nobody reads any more. */
  recycle(view: Uint8Array): void {
    const base = this.handedOut.get(view);
    if (!base) return;
    this.handedOut.delete(view);
    if (base.byteLength > this.maxBytes / 4) return;
    this.free.push(base);
    this.freeBytes += base.byteLength;
    // Over budget: drop the smallest (the large ones are the expensive ones to make again).
    this.free.sort((a, b) => b.byteLength - a.byteLength);
    while (this.freeBytes > this.maxBytes) this.freeBytes -= this.free.pop()!.byteLength;
  }
}
