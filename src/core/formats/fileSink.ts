import * as fsp from "node:fs/promises";

/**
 * A ByteSink onto a new file, batching small writes into large ones; `close` fsyncs, so a
 * published artifact is on disk before anything refers to it.
 */
export async function openFileSink(file: string, bufferBytes = 4 << 20) {
  const handle = await fsp.open(file, "wx");
  let buffer = Buffer.allocUnsafe(bufferBytes);
  let used = 0;
  let written = 0;
  const flush = async () => {
    let offset = 0;
    while (offset < used) offset += (await handle.write(buffer, offset, used - offset)).bytesWritten;
    written += used;
    used = 0;
  };
  return {
    async write(chunk: Uint8Array): Promise<void> {
      if (chunk.byteLength >= bufferBytes) {
        await flush();
        let offset = 0;
        while (offset < chunk.byteLength) offset += (await handle.write(chunk, offset, chunk.byteLength - offset)).bytesWritten;
        written += chunk.byteLength;
        return;
      }
      if (used + chunk.byteLength > bufferBytes) await flush();
      buffer.set(chunk, used);
      used += chunk.byteLength;
    },
    get bytesWritten() {
      return written + used;
    },
    async close(): Promise<void> {
      await flush();
      await handle.sync();
      await handle.close();
      buffer = Buffer.alloc(0);
    },
    async abort(): Promise<void> {
      await handle.close().catch(() => undefined);
      await fsp.rm(file, { force: true });
    },
  };
}
