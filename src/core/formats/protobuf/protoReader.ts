import { badInput } from "../../errors";
import type { ByteSource } from "../byteSource";

/** Wire types this reader accepts; groups (3, 4) are deprecated and never used by ONNX. */
export type WireType = 0 | 1 | 2 | 5;

/** One field of a message, located by absolute offsets in the source. Payloads are not read. */
export interface ProtoField {
  fieldNumber: number;
  wireType: WireType;
  /** Offset of the field's tag. */
  tagOffset: number;
  /** Offset of the length prefix for length-delimited fields; equal to `offset` otherwise. */
  prefixOffset: number;
  /** Offset of the value: the varint bytes, the fixed bytes, or the length-delimited payload. */
  offset: number;
  /** Byte length of the value (of the payload for length-delimited fields). */
  length: number;
  end: number;
  /** Varint fields: the value as a signed 64-bit integer (see `readVarint`); 0 otherwise. */
  value: number;
}

const TWO_32 = 2 ** 32;
/** Protobuf field numbers are at most 2^29 - 1. */
const MAX_FIELD_NUMBER = 536870911;
/**
 * Refill sizes for the tag/varint buffer: small fields cost one read per window, not per byte.
 * The first window is small because a TensorProto header is ~100 bytes before megabytes of
 * raw_data; runs of many small fields (nodes) grow it.
 */
const FIRST_WINDOW = 4096;
const MAX_WINDOW = 1 << 20;

/**
 * Walks the fields of one message spanning [start, end) of a ByteSource. Every length is checked
 * against the enclosing message before it is trusted, so a corrupt file fails with the offset of
 * the bad field instead of reading past it; nested messages are walked with their own reader.
 */
export class ProtoReader {
  private window: Uint8Array = new Uint8Array(0);
  private windowStart = 0;
  private windowSize = FIRST_WINDOW;
  private pos: number;

  /**
   * @param what names the message for errors: `TensorProto "conv1.weight"`, `GraphProto`.
   */
  constructor(
    readonly source: ByteSource,
    readonly start: number,
    readonly end: number,
    readonly what: string,
  ) {
    if (!(start >= 0 && start <= end && end <= source.size)) {
      throw corrupt(what, start, `message [${start}, ${end}) leaves the ${source.size}-byte file`);
    }
    this.pos = start;
  }

  get position(): number {
    return this.pos;
  }

  get atEnd(): boolean {
    return this.pos >= this.end;
  }

  /** The next field, or undefined at the end of the message. */
  next(): ProtoField | undefined {
    if (this.pos >= this.end) return undefined;
    const tagOffset = this.pos;
    const tag = this.readVarint();
    const fieldNumber = Math.floor(tag / 8);
    const wire = tag % 8;
    if (fieldNumber < 1 || fieldNumber > MAX_FIELD_NUMBER) {
      throw corrupt(this.what, tagOffset, `invalid field number ${fieldNumber}`);
    }
    switch (wire) {
      case 0: {
        const offset = this.pos;
        const value = this.readVarint();
        return { fieldNumber, wireType: 0, tagOffset, prefixOffset: offset, offset, length: this.pos - offset, end: this.pos, value };
      }
      case 1:
      case 5: {
        const length = wire === 1 ? 8 : 4;
        const offset = this.pos;
        if (offset + length > this.end) {
          throw corrupt(this.what, tagOffset, `field ${fieldNumber} needs ${length} bytes but the message ends at ${this.end}`);
        }
        this.pos = offset + length;
        return { fieldNumber, wireType: wire, tagOffset, prefixOffset: offset, offset, length, end: this.pos, value: 0 };
      }
      case 2: {
        const prefixOffset = this.pos;
        const length = this.readVarint();
        const offset = this.pos;
        if (length < 0 || length > this.end - offset) {
          throw corrupt(this.what, tagOffset, `field ${fieldNumber} declares ${length} bytes but the message ends ${this.end - offset} bytes later`);
        }
        this.pos = offset + length;
        return { fieldNumber, wireType: 2, tagOffset, prefixOffset, offset, length, end: this.pos, value: 0 };
      }
      case 3:
      case 4:
        throw corrupt(this.what, tagOffset, `field ${fieldNumber} uses protobuf groups (wire type ${wire}), which ONNX never writes`);
      default:
        throw corrupt(this.what, tagOffset, `field ${fieldNumber} has invalid wire type ${wire}`);
    }
  }

  /**
   * Reads one varint at the current position as a signed 64-bit integer (two's complement, as
   * protobuf encodes negative int32/int64), exact within ±2^53 and approximate beyond.
   */
  readVarint(): number {
    const start = this.pos;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw corrupt(this.what, start, "varint runs past the end of the message");
      const b = this.byteAt(this.pos++);
      const bits = b & 0x7f;
      if (i < 4) lo |= bits << (7 * i);
      else if (i === 4) {
        lo |= (bits & 0x0f) << 28;
        hi |= bits >>> 4;
      } else if (i < 9) hi |= bits << (7 * i - 32);
      else if (b > 1) throw corrupt(this.what, start, "varint exceeds 64 bits");
      else hi |= bits << 31;
      if (b < 0x80) return (hi | 0) * TWO_32 + (lo >>> 0);
    }
    throw corrupt(this.what, start, "varint longer than 10 bytes");
  }

  /** Reads one varint exactly, as an unsigned 64-bit bigint (for int64 tensor data). */
  readVarintBigInt(): bigint {
    const start = this.pos;
    let value = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw corrupt(this.what, start, "varint runs past the end of the message");
      const b = this.byteAt(this.pos++);
      if (i === 9 && b > 1) throw corrupt(this.what, start, "varint exceeds 64 bits");
      value |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return value;
      shift += 7n;
    }
    throw corrupt(this.what, start, "varint longer than 10 bytes");
  }

  /** Reads `width` fixed bytes (a fixed32/fixed64 value) at the current position. */
  readFixed(width: number): Uint8Array {
    const start = this.pos;
    if (width > this.end - start) throw corrupt(this.what, start, `${width}-byte value runs past the end of the message`);
    this.pos += width;
    return this.source.read(start, width);
  }

  /** A reader over a length-delimited field's payload. */
  sub(field: ProtoField, what: string): ProtoReader {
    return new ProtoReader(this.source, field.offset, field.end, what);
  }

  /** The payload bytes of a field (callers only use this for small fields: names, strings). */
  bytes(field: ProtoField): Uint8Array {
    return this.source.read(field.offset, field.length);
  }

  string(field: ProtoField): string {
    if (field.wireType !== 2) throw corrupt(this.what, field.tagOffset, `field ${field.fieldNumber} should be a string (wire type 2), found wire type ${field.wireType}`);
    try {
      return utf8.decode(this.bytes(field));
    } catch {
      // Protobuf strings are UTF-8; a name that is not cannot be compared with another reliably.
      throw corrupt(this.what, field.tagOffset, `string field ${field.fieldNumber} is not valid UTF-8`);
    }
  }

  private byteAt(offset: number): number {
    const i = offset - this.windowStart;
    if (i >= 0 && i < this.window.length) return this.window[i];
    // Grow the window only while reading on from where it ended; a jump (a skipped tensor's
    // data) starts small again, so a parse reads headers rather than weights.
    this.windowSize = offset === this.windowStart + this.window.length ? Math.min(2 * this.windowSize, MAX_WINDOW) : FIRST_WINDOW;
    const length = Math.min(this.windowSize, this.end - offset);
    this.window = this.source.read(offset, length);
    this.windowStart = offset;
    return this.window[0];
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function corrupt(what: string, offset: number, problem: string) {
  return badInput(`${what} is truncated or corrupt at byte ${offset}: ${problem}`, undefined, { offset });
}
