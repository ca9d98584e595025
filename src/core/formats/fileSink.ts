import * as fsp from "node:fs/promises";
import { startBackgroundSha256, type BackgroundSha256 } from "./backgroundSha256";

export interface FileSinkOptions {
  /**
   * Called with each chunk given to `write` once the sink no longer reads it (copied, or
   * written), so the caller may reuse its memory (the merge recycles its outputs).
   */
  onReleased?(chunk: Uint8Array): void;
  /**
   * Bytes accepted but not yet written beyond which `write` waits (default twice `bufferBytes`).
   * It bounds the memory held by chunks waiting for the disk.
   */
  maxPendingBytes?: number;
  /**
   * Starts an fdatasync in the background each time this many bytes were written since the last
   * one began (default 32 MiB; 0 turns it off), so the disk takes the file while the caller
   * still computes, and `close` waits only for the tail instead of the whole file.
   */
  syncEveryBytes?: number;
  /**
   * false: neither background flushes nor an fsync on `close` — for scratch files that are read
   * back at once and removed (a merge search's candidates), where waiting for the disk buys
   * nothing. Default true: a published artifact is on disk before anything refers to it.
   */
  sync?: boolean;
  /**
   * Hash the bytes as they are accepted (sha256, in file order), so `sha256` gives the file's
   * hash once closed without reading it back. The hashing runs on a thread of its own
   * (backgroundSha256.ts): chunks in shared memory are hashed where they lie (and handed back by
   * `onReleased` once written and hashed), smaller or other chunks are copied to it.
   */
  sha256?: boolean;
}

/** Arena size for copies of small chunks (at most `bufferBytes`). */
const ARENA_BYTES = 256 << 10;

/** How often `write` lets the event loop see finished writes while one is in flight. */
const TURN_EVERY_MS = 1;

/** Chunks at least this large (or `bufferBytes`, if smaller) are written from the caller's memory. */
const COPY_BELOW = 64 << 10;

interface Queued {
  bytes: Uint8Array;
  /** Set for copies in the sink's own arena (nobody to hand back). */
  copy?: boolean;
  /** For a chunk hashed in place: its hashing ticket (it is handed back once hashed too). */
  ticket?: number;
}

/**
 * A ByteSink onto a new file; `close` fsyncs (unless `sync: false`), so a published artifact is on disk before anything
 * refers to it.
 *
 * Writes overlap the caller's work. Small chunks are copied (consecutive ones into one run of a
 * small arena); larger ones are queued as they are, without a copy, and written from the
 * caller's memory. One write is in flight at a time, and it takes everything queued meanwhile in
 * one writev. So a chunk passed to `write` must not be changed until `onReleased` hands it back
 * (or `close` resolves); the merge rewriters pass fresh buffers or output slots that they reuse
 * only once released.
 */
export async function openFileSink(file: string, bufferBytes = 4 << 20, options: FileSinkOptions = {}): Promise<FileSink> {
  const handle = await fsp.open(file, "wx");
  return new FileSink(file, handle, bufferBytes, options);
}

/**
 * The sink's state and steps are a class, not closures of `openFileSink`: its methods are then
 * one function each for the life of the thread, which V8 optimizes once. Closures made afresh
 * for every file were compiled again for every merge (~150 ms of the other core's time for a
 * merge's writes here, measured with --trace-opt).
 */
export class FileSink {
  private readonly released: (chunk: Uint8Array) => void;
  private readonly copyBelow: number;
  /** Small enough that malloc serves it from memory freed before (no fresh pages to fault in). */
  private readonly arenaBytes: number;
  private readonly maxPending: number;
  private readonly durable: boolean;
  private readonly syncEvery: number;
  private readonly hash: BackgroundSha256 | null;
  /** Written chunks whose hashing (in place) is not done yet: handed back once it is. */
  private awaitingHash: Queued[] = [];
  private digest: string | null = null;

  // Small chunks are copied into the arena, bump-allocated; a full arena is left to the garbage
  // collector once its pieces are written, and a new one started.
  private arena = Buffer.allocUnsafe(0);
  private arenaUsed = 0;
  private queue: Queued[] = [];
  /** Bytes accepted and not yet written: the queue and the write in flight. */
  private pending = 0;
  private accepted = 0;
  private writing = false;
  private failure: unknown = null;
  private waiters: Array<() => void> = [];
  private lastTurn = 0;

  // One background flush at a time: `synced` settles with null, or with the error that close
  // rethrows (after a failure no further flushes start).
  private unsynced = 0;
  private syncBusy = false;
  private synced: Promise<unknown> = Promise.resolve(null);

  constructor(
    private readonly file: string,
    private readonly handle: fsp.FileHandle,
    bufferBytes: number,
    options: FileSinkOptions,
  ) {
    this.released = options.onReleased ?? (() => undefined);
    this.copyBelow = Math.min(COPY_BELOW, bufferBytes);
    this.arenaBytes = Math.min(bufferBytes, ARENA_BYTES);
    this.maxPending = Math.max(bufferBytes, options.maxPendingBytes ?? 2 * bufferBytes);
    this.durable = options.sync ?? true;
    this.syncEvery = this.durable ? options.syncEveryBytes ?? 32 << 20 : 0;
    this.hash = options.sha256 ? startBackgroundSha256() : null;
  }

  private wake(): void {
    const ready = this.waiters;
    this.waiters = [];
    ready.forEach((resolve) => resolve());
  }

  private maybeSync(bytes: number): void {
    this.unsynced += bytes;
    if (this.syncEvery <= 0 || this.unsynced < this.syncEvery || this.syncBusy) return;
    this.unsynced = 0;
    this.syncBusy = true;
    this.synced = this.handle.datasync().then(
      () => {
        this.syncBusy = false;
        return null;
      },
      (error: unknown) => error,
    );
  }

  /** Copies a small chunk to the queue, extending the last copy when it ends where this starts. */
  private enqueueCopy(chunk: Uint8Array): void {
    const n = chunk.byteLength;
    if (this.arenaUsed + n > this.arena.byteLength) {
      this.arena = Buffer.allocUnsafe(this.arenaBytes);
      this.arenaUsed = 0;
    }
    const arena = this.arena;
    arena.set(chunk, this.arenaUsed);
    const last = this.queue[this.queue.length - 1];
    if (last?.copy && last.bytes.buffer === arena.buffer && last.bytes.byteOffset + last.bytes.byteLength === arena.byteOffset + this.arenaUsed) {
      last.bytes = new Uint8Array(arena.buffer, last.bytes.byteOffset, last.bytes.byteLength + n);
    } else this.queue.push({ bytes: arena.subarray(this.arenaUsed, this.arenaUsed + n), copy: true });
    this.arenaUsed += n;
  }

  /** writev of every chunk, continuing after a short write. */
  private async writeAll(chunks: Uint8Array[]): Promise<void> {
    for (let rest = chunks; rest.length > 0; ) {
      let n = (await this.handle.writev(rest)).bytesWritten;
      while (rest.length > 0 && n >= rest[0].byteLength) {
        n -= rest[0].byteLength;
        rest = rest.slice(1);
      }
      if (n > 0) rest = [rest[0].subarray(n), ...rest.slice(1)];
    }
  }

  /** Starts a write of everything queued, unless one is in flight (it starts the next itself). */
  private pump(): void {
    if (this.writing || this.queue.length === 0 || this.failure) return;
    const items = this.queue;
    this.queue = [];
    this.writing = true;
    const bytes = items.reduce((s, q) => s + q.bytes.byteLength, 0);
    this.writeAll(items.map((q) => q.bytes))
      .then(
        () => {
          this.pending -= bytes;
          for (const q of items) if (!q.copy) this.release(q);
          this.maybeSync(bytes);
        },
        (error: unknown) => {
          this.failure = error;
        },
      )
      .finally(() => {
        this.writing = false;
        this.wake();
        this.pump();
      });
  }

  /** Resolves once `done()` holds or a write failed (then throws its error). */
  private async until(done: () => boolean): Promise<void> {
    while (!this.failure && !done()) await new Promise<void>((resolve) => this.waiters.push(resolve));
    if (this.failure) throw this.failure;
  }

  private readonly drained = (): boolean => this.pending <= this.maxPending;
  private readonly idle = (): boolean => !this.writing && this.queue.length === 0;

  /** Hands a written chunk back, or keeps it until it is hashed. */
  private release(q: Queued): void {
    if (q.ticket !== undefined && (this.awaitingHash.length > 0 || !this.hash!.hashed(q.ticket))) this.awaitingHash.push(q);
    else this.released(q.bytes);
  }

  /** Hands back the written chunks whose hashing is done, in order. */
  private releaseHashed(all = false): void {
    let i = 0;
    while (i < this.awaitingHash.length && (all || this.hash!.hashed(this.awaitingHash[i].ticket!))) this.released(this.awaitingHash[i++].bytes);
    if (i > 0) this.awaitingHash.splice(0, i);
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    const n = chunk.byteLength;
    const small = n < this.copyBelow;
    // A large chunk in shared memory is hashed where it lies, and handed back once hashed too.
    const inPlace = !small && chunk.buffer instanceof SharedArrayBuffer;
    let ticket: number | undefined;
    if (this.hash) {
      if (this.awaitingHash.length > 0) this.releaseHashed();
      const queued = this.hash.update(chunk, inPlace);
      if (inPlace) ticket = typeof queued === "number" ? queued : await queued;
      else if (typeof queued !== "number") await queued;
    }
    this.accepted += n;
    this.pending += n;
    if (small) {
      this.enqueueCopy(chunk);
      this.released(chunk);
    } else this.queue.push({ bytes: chunk, ticket });
    // While a write is in flight, chunks gather in the queue: the next writev takes them all.
    this.pump();
    if (!this.drained()) await this.until(this.drained);
    // A finished write is only seen, and the next one started, when this thread's event loop
    // turns; a caller that computes between writes without waiting on I/O (a merge) would keep
    // the disk idle. So while a write is in flight, let the loop turn every millisecond or so.
    if (this.writing) {
      const now = performance.now();
      if (now - this.lastTurn >= TURN_EVERY_MS) {
        this.lastTurn = now;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  }

  get bytesWritten(): number {
    return this.accepted;
  }

  /** Hex sha256 of everything written; only after `close`, and only with the `sha256` option. */
  get sha256(): string {
    if (!this.hash) throw new Error("this sink was not opened with the sha256 option");
    if (this.digest === null) throw new Error("the sink's sha256 is known once it is closed");
    return this.digest;
  }

  async close(): Promise<void> {
    try {
      this.pump();
      await this.until(this.idle);
      const syncFailure = await this.synced;
      if (syncFailure) throw syncFailure;
      if (this.durable) await this.handle.sync();
      await this.handle.close();
      if (this.hash) {
        this.digest = await this.hash.digest();
        this.releaseHashed(true);
      }
    } catch (error) {
      this.hash?.abort();
      throw error;
    }
    this.arena = Buffer.allocUnsafe(0);
  }

  async abort(): Promise<void> {
    this.hash?.abort();
    this.queue = [];
    await this.until(() => !this.writing).catch(() => undefined);
    await this.synced;
    await this.handle.close().catch(() => undefined);
    await fsp.rm(this.file, { force: true });
  }
}
