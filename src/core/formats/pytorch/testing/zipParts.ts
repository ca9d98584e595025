import * as zlib from "node:zlib";

/** A zip entry for test files: its name and bytes, stored or deflated. */
export interface ZipPart {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
}

/**
 * The entries of a valid zip (test inputs only: the committed fixtures), read from the central
 * directory without checks. Deflated entries are inflated.
 */
export function zipParts(bytes: Uint8Array): ZipPart[] {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const e = b.lastIndexOf(Buffer.from([0x50, 0x4b, 5, 6]));
  let count = b.readUInt16LE(e + 10);
  let p = b.readUInt32LE(e + 16);
  if (p === 0xffffffff) {
    const z = Number(b.readBigUInt64LE(e - 12));
    count = Number(b.readBigUInt64LE(z + 32));
    p = Number(b.readBigUInt64LE(z + 48));
  }
  const parts: ZipPart[] = [];
  for (let n = 0; n < count; n++) {
    const method = b.readUInt16LE(p + 10);
    let csize = b.readUInt32LE(p + 20);
    const nl = b.readUInt16LE(p + 28);
    const name = b.subarray(p + 46, p + 46 + nl).toString("utf8");
    let off = b.readUInt32LE(p + 42);
    if (off === 0xffffffff) {
      // Zip64 (as writeZip writes it): size, compressed size, offset in the first extra field.
      csize = Number(b.readBigUInt64LE(p + 46 + nl + 12));
      off = Number(b.readBigUInt64LE(p + 46 + nl + 20));
    }
    const data = off + 30 + b.readUInt16LE(off + 26) + b.readUInt16LE(off + 28);
    const raw = b.subarray(data, data + csize);
    parts.push({ name, data: new Uint8Array(method === 8 ? zlib.inflateRawSync(raw) : raw), deflate: method === 8 });
    p += 46 + nl + b.readUInt16LE(p + 30) + b.readUInt16LE(p + 32);
  }
  return parts;
}

export interface WriteZipOptions {
  /** Write Zip64 records and extra fields (sizes and offsets as all-ones in the 32-bit fields). */
  zip64?: boolean;
  /** Pad each entry's local extra field so its data starts at a multiple of this (torch uses 64). */
  align?: number;
}

/** A zip file of the given entries, in order. CRC-32 fields are left 0: neither the reader nor the judge checks them. */
export function writeZip(parts: readonly ZipPart[], options: WriteZipOptions = {}): Uint8Array {
  const chunks: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const part of parts) {
    const name = Buffer.from(part.name, "utf8");
    const body = part.deflate ? zlib.deflateRawSync(part.data) : Buffer.from(part.data);
    const crc = 0;
    const zip64Extra = options.zip64 ? Buffer.alloc(28) : Buffer.alloc(0);
    if (options.zip64) {
      zip64Extra.writeUInt16LE(1, 0);
      zip64Extra.writeUInt16LE(24, 2);
      zip64Extra.writeBigUInt64LE(BigInt(part.data.byteLength), 4);
      zip64Extra.writeBigUInt64LE(BigInt(body.byteLength), 12);
      zip64Extra.writeBigUInt64LE(BigInt(offset), 20);
    }
    let pad = 0;
    if (options.align) {
      const start = offset + 30 + name.byteLength + 4;
      pad = (options.align - (start % options.align)) % options.align;
    }
    const localExtra = options.align ? Buffer.concat([Buffer.from([0x55, 0x46, pad & 0xff, pad >> 8]), Buffer.alloc(pad)]) : Buffer.alloc(0);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(options.zip64 ? 45 : 20, 4);
    local.writeUInt16LE(part.deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc >>> 0, 14);
    local.writeUInt32LE(body.byteLength, 18);
    local.writeUInt32LE(part.data.byteLength, 22);
    local.writeUInt16LE(name.byteLength, 26);
    local.writeUInt16LE(localExtra.byteLength, 28);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(options.zip64 ? 45 : 20, 4);
    cd.writeUInt16LE(options.zip64 ? 45 : 20, 6);
    cd.writeUInt16LE(part.deflate ? 8 : 0, 10);
    cd.writeUInt32LE(crc >>> 0, 16);
    cd.writeUInt32LE(options.zip64 ? 0xffffffff : body.byteLength, 20);
    cd.writeUInt32LE(options.zip64 ? 0xffffffff : part.data.byteLength, 24);
    cd.writeUInt16LE(name.byteLength, 28);
    cd.writeUInt16LE(zip64Extra.byteLength, 30);
    cd.writeUInt32LE(options.zip64 ? 0xffffffff : offset, 42);
    central.push(cd, name, zip64Extra);
    chunks.push(local, name, localExtra, body);
    offset += local.byteLength + name.byteLength + localExtra.byteLength + body.byteLength;
  }
  const cdBytes = Buffer.concat(central);
  const end: Buffer[] = [];
  if (options.zip64) {
    const z = Buffer.alloc(56);
    z.writeUInt32LE(0x06064b50, 0);
    z.writeBigUInt64LE(44n, 4);
    z.writeUInt16LE(45, 12);
    z.writeUInt16LE(45, 14);
    z.writeBigUInt64LE(BigInt(parts.length), 24);
    z.writeBigUInt64LE(BigInt(parts.length), 32);
    z.writeBigUInt64LE(BigInt(cdBytes.byteLength), 40);
    z.writeBigUInt64LE(BigInt(offset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(offset + cdBytes.byteLength), 8);
    loc.writeUInt32LE(1, 16);
    end.push(z, loc);
  }
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(options.zip64 ? 0xffff : parts.length, 8);
  eocd.writeUInt16LE(options.zip64 ? 0xffff : parts.length, 10);
  eocd.writeUInt32LE(options.zip64 ? 0xffffffff : cdBytes.byteLength, 12);
  eocd.writeUInt32LE(options.zip64 ? 0xffffffff : offset, 16);
  return new Uint8Array(Buffer.concat([...chunks, cdBytes, ...end, eocd]));
}
