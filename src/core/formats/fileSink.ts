import * as fsp from "node:fs/promises";

export interface FileSinkOptions {
  /**
   * Called with each chunk given to `write` once the sink no longer reads it (copied into its
   * batch, or written), so the caller may reuse its memory (the merge recycles its outputs).
   */
  onReleased?(chunk: Uint8Array): void;
}

/**
 * A ByteSink onto a new file, batching small writes into large ones; `close` fsyncs, so a
 * published artifact is on disk before anything refers to it.
 *
 * Writes overlap the caller's work: a full batch (or a chunk at least as large) is handed to the
 * OS in the background while the caller computes the next bytes, with at most one write in
 * flight and two batch buffers. So a chunk passed to `write` must not be changed until the next
 * `write` or `close` resolves (the merge rewriters hand over fresh buffers and never do).
 */
export async function openFileSink(file: string, bufferBytes = 4 << 20, options: FileSinkOptions = {}) {
  const released = options.onReleased ?? (() => undefined);
  const handle = await fsp.open(file, "wx");
  let buffer = Buffer.allocUnsafe(bufferBytes);
  let spare = Buffer.allocUnsafe(bufferBytes);
  let used = 0;
  let written = 0;
  let inFlight: Promise<void> = Promise.resolve();

  const writeFully = async (bytes: Uint8Array): Promise<void> => {
    let offset = 0;
    while (offset < bytes.byteLength) offset += (await handle.write(bytes, offset, bytes.byteLength - offset)).bytesWritten;
  };
  /** Starts writing `bytes` once the previous write is done; a failure surfaces at the next await. */
  const startWrite = async (bytes: Uint8Array, release: boolean): Promise<void> => {
    await inFlight;
    inFlight = release ? writeFully(bytes).then(() => released(bytes)) : writeFully(bytes);
    // Marked handled here; awaited (and rethrown) by the next write, close or abort.
    inFlight.catch(() => undefined);
    written += bytes.byteLength;
  };
  const flush = async (): Promise<void> => {
    if (used === 0) return;
    await startWrite(buffer.subarray(0, used), false);
    [buffer, spare] = [spare, buffer];
    used = 0;
  };
  return {
    async write(chunk: Uint8Array): Promise<void> {
      if (chunk.byteLength >= bufferBytes) {
        await flush();
        await startWrite(chunk, true);
        return;
      }
      if (used + chunk.byteLength > bufferBytes) await flush();
      buffer.set(chunk, used);
      used += chunk.byteLength;
      released(chunk);
    },
    get bytesWritten() {
      return written + used;
    },
    async close(): Promise<void> {
      await flush();
      await inFlight;
      await handle.sync();
      await handle.close();
      buffer = spare = Buffer.alloc(0);
    },
    async abort(): Promise<void> {
      await inFlight.catch(() => undefined);
      await handle.close().catch(() => undefined);
      await fsp.rm(file, { force: true });
    },
  };
}
