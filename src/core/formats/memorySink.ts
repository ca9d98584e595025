/**
 * A ByteSink into one growing buffer, for an output that is used at once and never stored (a
 * merge search's candidate, handed to onnxruntime as bytes): no file to write, read back and
 * remove. Each chunk is copied when `write` takes it and handed back through `onReleased` at
 * once, so the merge reuses its memory as with openFileSink.
 */
export interface MemorySink {
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
  readonly bytesWritten: number;
  /** Everything written, in order (a view of the sink's buffer; valid once closed). */
  readonly bytes: Uint8Array;
}

/**
 * `expectedBytes`: the output's size when known (an ONNX rewrite plans it), so the buffer is
 * allocated once. `buffer`: the caller's memory to write into when it is large enough (its bytes
 * are then the sink's until the caller lets go of `bytes`); a larger output gets a buffer of its own.
 */
export function openMemorySink(expectedBytes: number, options: { onReleased?(chunk: Uint8Array): void; buffer?: Uint8Array } = {}): MemorySink {
  // Unzeroed: every byte handed out is written first (and a zeroed buffer costs a candidate as
  // much as copying into it).
  const size = Math.max(0, expectedBytes);
  let buffer: Uint8Array = options.buffer && options.buffer.byteLength >= size ? options.buffer : Buffer.allocUnsafe(size);
  let used = 0;
  let closed = false;
  return {
    async write(chunk: Uint8Array): Promise<void> {
      if (closed) throw new Error("write after the memory sink was closed");
      if (used + chunk.byteLength > buffer.byteLength) {
        const grown = Buffer.allocUnsafe(Math.max(used + chunk.byteLength, 2 * buffer.byteLength));
        grown.set(buffer.subarray(0, used));
        buffer = grown;
      }
      buffer.set(chunk, used);
      used += chunk.byteLength;
      options.onReleased?.(chunk);
    },
    async close(): Promise<void> {
      closed = true;
    },
    async abort(): Promise<void> {
      closed = true;
      buffer = new Uint8Array(0);
      used = 0;
    },
    get bytesWritten(): number {
      return used;
    },
    get bytes(): Uint8Array {
      return buffer.subarray(0, used);
    },
  };
}
