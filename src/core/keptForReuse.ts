/**
 * At most one idle thing kept for reuse (a thread that is costly to start: an inference thread
 * with onnxruntime loaded, a hashing thread), ended once it has waited `idleMs` untaken. The
 * timer never holds the process open. Kept per JavaScript thread, as the module is.
 */
export class KeptForReuse<T> {
  private kept: { item: T; timer: NodeJS.Timeout } | null = null;

  constructor(
    private readonly idleMs: number,
    private readonly end: (item: T) => void,
  ) {}

  /** Keeps `item` for the next taker; when one is kept already, ends `item` instead. */
  keep(item: T): void {
    if (this.kept) {
      this.end(item);
      return;
    }
    const timer = setTimeout(() => {
      if (this.kept?.item === item) this.kept = null;
      this.end(item);
    }, this.idleMs);
    timer.unref();
    this.kept = { item, timer };
  }

  /** The kept item, no longer kept; null when there is none. */
  take(): T | null {
    const kept = this.kept;
    if (!kept) return null;
    clearTimeout(kept.timer);
    this.kept = null;
    return kept.item;
  }

  /** Forgets `item` if it is the kept one (it ended by itself), without ending it. */
  forget(item: T): void {
    if (this.kept?.item !== item) return;
    clearTimeout(this.kept.timer);
    this.kept = null;
  }
}
