/**
 * Which of an accumulator's output slots are being read by a writer. Slot 0 is the accumulator's
 * private slot and is never handed out; slots 1..count-1 are handed out round robin and are busy
 * from `handOut` until the writer gives their bytes back (`giveBack`), so a chunk is never
 * overwritten while a write still reads it.
 */
export class OutputSlots {
  private readonly slotOf = new Map<Uint8Array, number>();
  private readonly busy = new Set<number>();
  private last = 0;

  /** A slot nobody reads among 1..count-1, round robin; 0 (private) when all are busy. */
  free(count: number): number {
    const n = count - 1;
    for (let i = 1; i <= n; i++) {
      const slot = 1 + ((this.last + i - 1) % n);
      if (!this.busy.has(slot)) return (this.last = slot);
    }
    return 0;
  }

  /** Marks `slot` busy until `bytes` (a view of it) is given back. */
  handOut(slot: number, bytes: Uint8Array): void {
    this.busy.add(slot);
    this.slotOf.set(bytes, slot);
  }

  /** Frees the slot `bytes` was handed out from; false for bytes that are no slot's. */
  giveBack(bytes: Uint8Array): boolean {
    const slot = this.slotOf.get(bytes);
    if (slot === undefined) return false;
    this.slotOf.delete(bytes);
    this.busy.delete(slot);
    return true;
  }
}
