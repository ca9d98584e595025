/**
 * A minimal protobuf wire-format writer (https://protobuf.dev/programming-guides/encoding/):
 * varints, tags, fixed32/fixed64 and length-delimited fields into a growable buffer. Used by the
 * ONNX test writer and by the rewriter for the few bytes it re-encodes (length prefixes, typed
 * tensor fields, metadata entries); large payloads are never built here by the rewriter.
 */
export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

/** Bytes a varint takes for a non-negative integer below 2^64 (a number or a bigint). */
export function varintSize(value: number | bigint): number {
  if (typeof value === "number" && value >= 0 && value < 0x80000000) {
    return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;
  }
  let v = typeof value === "bigint" ? BigInt.asUintN(64, value) : BigInt(checkedUnsigned(value));
  let n = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    n++;
  }
  return n;
}

/**
 * Encodes a varint. Negative numbers are written as 64-bit two's complement (10 bytes), as
 * protobuf does for int32/int64 fields.
 */
export function encodeVarint(value: number | bigint): Uint8Array {
  if (typeof value === "number" && value >= 0 && Number.isSafeInteger(value)) {
    const out = new Uint8Array(varintSize(value));
    writeUnsigned(out, 0, value);
    return out;
  }
  let v = typeof value === "bigint" ? BigInt.asUintN(64, value) : BigInt.asUintN(64, BigInt(checkedInteger(value)));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

/** Writes a non-negative safe integer as a varint at `at`; returns the position after it. */
function writeUnsigned(into: Uint8Array, at: number, value: number): number {
  let v = value;
  while (v >= 0x80) {
    into[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  into[at++] = v;
  return at;
}

function checkedInteger(value: number): number {
  if (!Number.isSafeInteger(value)) throw new RangeError(`varint value ${value} is not a safe integer`);
  return value;
}

function checkedUnsigned(value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`varint size of ${value}: not a non-negative safe integer`);
  return value;
}

export function encodeTag(fieldNumber: number, wireType: number): Uint8Array {
  return encodeVarint(fieldNumber * 8 + wireType);
}

export class ProtoWriter {
  private buffer = new Uint8Array(256);
  private length = 0;

  get size(): number {
    return this.length;
  }

  raw(bytes: Uint8Array): this {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
    return this;
  }

  varint(value: number | bigint): this {
    if (typeof value === "number" && value >= 0 && Number.isSafeInteger(value)) {
      // The hot path of typed tensor encoding: no allocation per value.
      this.reserve(10);
      this.length = writeUnsigned(this.buffer, this.length, value);
      return this;
    }
    return this.raw(encodeVarint(value));
  }

  tag(fieldNumber: number, wireType: number): this {
    return this.varint(fieldNumber * 8 + wireType);
  }

  varintField(fieldNumber: number, value: number | bigint): this {
    return this.tag(fieldNumber, WIRE_VARINT).varint(value);
  }

  fixed32(value: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value >>> 0, true);
    return this.raw(b);
  }

  float32(value: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    return this.raw(b);
  }

  fixed64(value: bigint): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, value), true);
    return this.raw(b);
  }

  float64(value: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, value, true);
    return this.raw(b);
  }

  bytesField(fieldNumber: number, bytes: Uint8Array): this {
    return this.tag(fieldNumber, WIRE_LEN).varint(bytes.length).raw(bytes);
  }

  stringField(fieldNumber: number, value: string): this {
    return this.bytesField(fieldNumber, new TextEncoder().encode(value));
  }

  /** A length-delimited sub-message built by `build` into its own writer. */
  messageField(fieldNumber: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytesField(fieldNumber, inner.finish());
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }

  private reserve(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < this.length + extra) capacity *= 2;
    const next = new Uint8Array(capacity);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
  }
}
