import * as fsp from "node:fs/promises";
import { createHash } from "node:crypto";

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
   * hash once closed without reading it back. Each chunk is hashed when `write` takes it, while
   * it is still in the CPU caches of whoever just produced it.
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
export async function openFileSink(file: string, bufferBytes = 4 << 20, options: FileSinkOptions = {}) {
  const released = options.onReleased ?? (() => undefined);
  const copyBelow = Math.min(COPY_BELOW, bufferBytes);
  // Small enough that malloc serves it from memory freed before (no fresh pages to fault in).
  const arenaBytes = Math.min(bufferBytes, ARENA_BYTES);
  const maxPending = Math.max(bufferBytes, options.maxPendingBytes ?? 2 * bufferBytes);
  const durable = options.sync ?? true;
  const syncEvery = durable ? options.syncEveryBytes ?? 32 << 20 : 0;
  const handle = await fsp.open(file, "wx");
  const hash = options.sha256 ? createHash("sha256") : null;
  let digest: string | null = null;

  // Small chunks are copied into the arena, bump-allocated; a full arena is left to the garbage
  // collector once its pieces are written, and a new one started.
  let arena = Buffer.allocUnsafe(0);
  let arenaUsed = 0;
  let queue: Queued[] = [];
  /** Bytes accepted and not yet written: the queue and the write in flight. */
  let pending = 0;
  let accepted = 0;
  let writing = false;
  let failure: unknown = null;
  let waiters: Array<() => void> = [];
  let lastTurn = 0;
  const wake = (): void => {
    const ready = waiters;
    waiters = [];
    ready.forEach((resolve) => resolve());
  };

  // One background flush at a time: `synced` settles with null, or with the error that close
  // rethrows (after a failure no further flushes start).
  let unsynced = 0;
  let syncBusy = false;
  let synced: Promise<unknown> = Promise.resolve(null);
  const maybeSync = (bytes: number): void => {
    unsynced += bytes;
    if (syncEvery <= 0 || unsynced < syncEvery || syncBusy) return;
    unsynced = 0;
    syncBusy = true;
    synced = handle.datasync().then(
      () => {
        syncBusy = false;
        return null;
      },
      (error: unknown) => error,
    );
  };

  /** Copies a small chunk to the queue, extending the last copy when it ends where this starts. */
  const enqueueCopy = (chunk: Uint8Array): void => {
    const n = chunk.byteLength;
    if (arenaUsed + n > arena.byteLength) {
      arena = Buffer.allocUnsafe(arenaBytes);
      arenaUsed = 0;
    }
    arena.set(chunk, arenaUsed);
    const last = queue[queue.length - 1];
    if (last?.copy && last.bytes.buffer === arena.buffer && last.bytes.byteOffset + last.bytes.byteLength === arena.byteOffset + arenaUsed) {
      last.bytes = new Uint8Array(arena.buffer, last.bytes.byteOffset, last.bytes.byteLength + n);
    } else queue.push({ bytes: arena.subarray(arenaUsed, arenaUsed + n), copy: true });
    arenaUsed += n;
  };

  /** writev of every chunk, continuing after a short write. */
  const writeAll = async (chunks: Uint8Array[]): Promise<void> => {
    for (let rest = chunks; rest.length > 0; ) {
      let n = (await handle.writev(rest)).bytesWritten;
      while (rest.length > 0 && n >= rest[0].byteLength) {
        n -= rest[0].byteLength;
        rest = rest.slice(1);
      }
      if (n > 0) rest = [rest[0].subarray(n), ...rest.slice(1)];
    }
  };

  /** Starts a write of everything queued, unless one is in flight (it starts the next itself). */
  const pump = (): void => {
    if (writing || queue.length === 0 || failure) return;
    const items = queue;
    queue = [];
    writing = true;
    const bytes = items.reduce((s, q) => s + q.bytes.byteLength, 0);
    writeAll(items.map((q) => q.bytes))
      .then(
        () => {
          pending -= bytes;
          for (const q of items) if (!q.copy) released(q.bytes);
          maybeSync(bytes);
        },
        (error: unknown) => {
          failure = error;
        },
      )
      .finally(() => {
        writing = false;
        wake();
        pump();
      });
  };

  /** Resolves once `done()` holds or a write failed (then throws its error). */
  const until = async (done: () => boolean): Promise<void> => {
    while (!failure && !done()) await new Promise<void>((resolve) => waiters.push(resolve));
    if (failure) throw failure;
  };

  return {
    async write(chunk: Uint8Array): Promise<void> {
      if (failure) throw failure;
      const n = chunk.byteLength;
      hash?.update(chunk);
      accepted += n;
      pending += n;
      if (n < copyBelow) {
        enqueueCopy(chunk);
        released(chunk);
      } else queue.push({ bytes: chunk });
      // While a write is in flight, chunks gather in the queue: the next writev takes them all.
      pump();
      await until(() => pending <= maxPending);
      // A finished write is only seen, and the next one started, when this thread's event loop
      // turns; a caller that computes between writes without waiting on I/O (a merge) would keep
      // the disk idle. So while a write is in flight, let the loop turn every millisecond or so.
      if (writing) {
        const now = performance.now();
        if (now - lastTurn >= TURN_EVERY_MS) {
          lastTurn = now;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    },
    get bytesWritten() {
      return accepted;
    },
    /** Hex sha256 of everything written; only after `close`, and only with the `sha256` option. */
    get sha256(): string {
      if (!hash) throw new Error("this sink was not opened with the sha256 option");
      if (digest === null) throw new Error("the sink's sha256 is known once it is closed");
      return digest;
    },
    async close(): Promise<void> {
      pump();
      await until(() => !writing && queue.length === 0);
      const syncFailure = await synced;
      if (syncFailure) throw syncFailure;
      if (durable) await handle.sync();
      await handle.close();
      if (hash) digest = hash.digest("hex");
      arena = Buffer.allocUnsafe(0);
    },
    async abort(): Promise<void> {
      queue = [];
      await until(() => !writing).catch(() => undefined);
      await synced;
      await handle.close().catch(() => undefined);
      await fsp.rm(file, { force: true });
    },
  };
}
