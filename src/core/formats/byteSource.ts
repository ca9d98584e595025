import * as fs from "node:fs";

/**
 * Random access to an artifact's bytes. Readers parse headers through it and record tensor
 * offsets instead of copying tensor data, so parsing a multi-GB model reads kilobytes.
 *
 * Synchronous on purpose: parsing runs in a pool thread, and a protobuf walk that awaited
 * every field would be far slower than one buffered pread.
 */
export interface ByteSource {
  readonly size: number;
  /** Exactly `length` bytes at `offset`; throws if the range leaves the source. */
  read(offset: number, length: number): Uint8Array;
}

export function bufferSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.byteLength,
    read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > bytes.byteLength) {
        throw new RangeError(`read of ${length} bytes at ${offset} leaves a ${bytes.byteLength}-byte source`);
      }
      return bytes.subarray(offset, offset + length);
    },
  };
}

/**
 * A file opened for positional reads, with a small read-ahead window so that walking many tiny
 * protobuf fields costs one pread per window rather than one per field.
 */
export class FileByteSource implements ByteSource {
  readonly size: number;
  private readonly fd: number;
  private window: Buffer = Buffer.alloc(0);
  private windowStart = 0;

  constructor(readonly path: string, private readonly windowBytes = 1 << 20) {
    this.fd = fs.openSync(path, "r");
    this.size = fs.fstatSync(this.fd).size;
  }

  read(offset: number, length: number): Uint8Array {
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new RangeError(`read of ${length} bytes at ${offset} leaves a ${this.size}-byte file`);
    }
    if (offset >= this.windowStart && offset + length <= this.windowStart + this.window.length) {
      const start = offset - this.windowStart;
      return this.window.subarray(start, start + length);
    }
    if (length > this.windowBytes) {
      const out = Buffer.allocUnsafe(length);
      readFully(this.fd, out, offset);
      return out;
    }
    const windowLength = Math.min(this.windowBytes, this.size - offset);
    const window = Buffer.allocUnsafe(windowLength);
    readFully(this.fd, window, offset);
    this.window = window;
    this.windowStart = offset;
    return window.subarray(0, length);
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

function readFully(fd: number, into: Buffer, position: number): void {
  let done = 0;
  while (done < into.length) {
    const n = fs.readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) throw new RangeError(`unexpected end of file at ${position + done}`);
    done += n;
  }
}
