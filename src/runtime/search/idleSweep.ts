/**
 * Calls `sweep` once nothing has been used for `idleMs`: a per-thread cache of a merge search
 * (a pool thread outlives its searches) lets go of its memory when searches stop. The timer does
 * not keep the thread alive.
 */
export class IdleSweep {
  private usedAt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly idleMs: number,
    private readonly sweep: () => void,
  ) {}

  /** A use now: the sweep waits idleMs from here. */
  touch(): void {
    this.usedAt = performance.now();
    this.schedule();
  }

  /** No sweep pending (the cache was cleared by other means). */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (performance.now() - this.usedAt >= this.idleMs) this.sweep();
      else this.schedule();
    }, this.idleMs);
    this.timer.unref?.();
  }
}
