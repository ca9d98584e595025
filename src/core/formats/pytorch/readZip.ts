import { badInput } from "../../errors";
import type { ByteSource } from "../byteSource";

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated; others are refused when read. */
  method: number;
  compressedSize: number;
  size: number;
  /** Absolute offset of the entry's (possibly compressed) bytes in the file. */
  dataOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX_ENTRIES = 1_000_000;

export function isZip(source: ByteSource): boolean {
  if (source.size < 22) return false;
  const head = source.read(0, 4);
  return head[0] === 0x50 && head[1] === 0x4b && head[2] === 3 && head[3] === 4;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function u64(v: DataView, at: number): number {
  const n = v.getBigUint64(at, true);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw badInput(`zip field of ${n} is beyond what a file can hold`);
  return Number(n);
}

/**
 * The entries of a zip file from its central directory (Zip64 included), each checked: its name
 * is a safe relative path, its bytes lie inside the file after a local header that agrees with
 * the directory, it is not encrypted, and its declared size is within `maxEntryBytes` (a zip
 * bomb is refused before anything is inflated). Entries do not overlap.
 */
export function readZip(source: ByteSource, maxEntryBytes: number): Map<string, ZipEntry> {
  const truncated = (what: string) => badInput(`the zip file is truncated or corrupt: ${what}`);
  const tail = Math.min(source.size, 22 + 0xffff);
  const end = source.read(source.size - tail, tail);
  let eocd = -1;
  for (let k = end.length - 22; k >= 0; k--) {
    if (view(end).getUint32(k, true) === EOCD && k + 22 + view(end).getUint16(k + 20, true) === end.length) { eocd = k; break; }
  }
  if (eocd < 0) throw truncated("no end-of-central-directory record");
  const e = view(end.subarray(eocd));
  let count = e.getUint16(10, true);
  let cdSize = e.getUint32(12, true);
  let cdOffset = e.getUint32(16, true);
  const eocdAt = source.size - tail + eocd;
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    if (eocdAt < 20) throw truncated("a Zip64 file without its locator");
    const loc = view(source.read(eocdAt - 20, 20));
    if (loc.getUint32(0, true) !== ZIP64_LOCATOR) throw truncated("a Zip64 file without its locator");
    const at = u64(loc, 8);
    if (at + 56 > source.size) throw truncated("the Zip64 record lies outside the file");
    const z = view(source.read(at, 56));
    if (z.getUint32(0, true) !== ZIP64_EOCD) throw truncated("no Zip64 end-of-central-directory record where its locator points");
    count = u64(z, 32);
    cdSize = u64(z, 40);
    cdOffset = u64(z, 48);
  }
  if (count > MAX_ENTRIES) throw badInput(`the zip file lists ${count} entries (at most ${MAX_ENTRIES})`);
  if (cdOffset + cdSize > source.size) throw truncated("the central directory lies outside the file");
  const cd = view(source.read(cdOffset, cdSize));
  const entries = new Map<string, ZipEntry>();
  const spans: Array<[number, number, string]> = [];
  let at = 0;
  for (let n = 0; n < count; n++) {
    if (at + 46 > cdSize || cd.getUint32(at, true) !== CENTRAL) throw truncated(`central directory entry ${n} is missing`);
    const flags = cd.getUint16(at + 8, true);
    const method = cd.getUint16(at + 10, true);
    let compressedSize = cd.getUint32(at + 20, true);
    let size = cd.getUint32(at + 24, true);
    const nameLength = cd.getUint16(at + 28, true);
    const extraLength = cd.getUint16(at + 30, true);
    const commentLength = cd.getUint16(at + 32, true);
    let localOffset = cd.getUint32(at + 42, true);
    if (at + 46 + nameLength + extraLength + commentLength > cdSize) throw truncated(`central directory entry ${n} runs past the directory`);
    const nameBytes = new Uint8Array(cd.buffer, cd.byteOffset + at + 46, nameLength);
    const name = Buffer.from(nameBytes).toString("utf8");
    // Zip64 extended information: the 8-byte values replace the fields that are all ones, in order.
    const extra = new DataView(cd.buffer, cd.byteOffset + at + 46 + nameLength, extraLength);
    for (let x = 0; x + 4 <= extraLength; ) {
      const id = extra.getUint16(x, true);
      const len = extra.getUint16(x + 2, true);
      if (x + 4 + len > extraLength) throw truncated(`entry ${JSON.stringify(name)} has a cut extra field`);
      if (id === 0x0001) {
        let p = x + 4;
        const next = () => {
          if (p + 8 > x + 4 + len) throw truncated(`entry ${JSON.stringify(name)} has a short Zip64 field`);
          const v = u64(extra, p);
          p += 8;
          return v;
        };
        if (size === 0xffffffff) size = next();
        if (compressedSize === 0xffffffff) compressedSize = next();
        if (localOffset === 0xffffffff) localOffset = next();
      }
      x += 4 + len;
    }
    at += 46 + nameLength + extraLength + commentLength;
    checkName(name);
    if (flags & 1) throw badInput(`zip entry ${JSON.stringify(name)} is encrypted`);
    if (size > maxEntryBytes || compressedSize > maxEntryBytes) {
      throw badInput(`zip entry ${JSON.stringify(name)} declares ${Math.max(size, compressedSize)} bytes, over the ${maxEntryBytes}-byte limit (a zip bomb?)`);
    }
    if (method === 0 && size !== compressedSize) throw badInput(`stored zip entry ${JSON.stringify(name)} declares ${size} bytes but holds ${compressedSize}`);
    if (localOffset + 30 > cdOffset) throw truncated(`entry ${JSON.stringify(name)}'s local header lies outside the entries`);
    const local = view(source.read(localOffset, 30));
    if (local.getUint32(0, true) !== LOCAL) throw truncated(`entry ${JSON.stringify(name)} has no local header`);
    const localName = local.getUint16(26, true);
    const dataOffset = localOffset + 30 + localName + local.getUint16(28, true);
    if (localName !== nameLength || Buffer.compare(Buffer.from(source.read(localOffset + 30, localName)), Buffer.from(nameBytes)) !== 0) {
      throw truncated(`entry ${JSON.stringify(name)}'s local header names another file`);
    }
    if (dataOffset + compressedSize > cdOffset) throw truncated(`entry ${JSON.stringify(name)}'s data runs past the entries`);
    if (entries.has(name)) throw badInput(`the zip file holds ${JSON.stringify(name)} twice`);
    entries.set(name, { name, method, compressedSize, size, dataOffset });
    spans.push([localOffset, dataOffset + compressedSize, name]);
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let k = 1; k < spans.length; k++) {
    if (spans[k][0] < spans[k - 1][1]) throw badInput(`zip entries ${JSON.stringify(spans[k - 1][2])} and ${JSON.stringify(spans[k][2])} overlap`);
  }
  return entries;
}

/** A relative path with no `..`, no absolute root, no backslash or drive, no control characters. */
function checkName(name: string): void {
  const bad = name.length === 0 || name.startsWith("/") || name.includes("\\") || /^[A-Za-z]:/.test(name)
    || name.split("/").some((part) => part === "..") || /[\u0000-\u001f]/.test(name);
  if (bad) throw badInput(`zip entry name ${JSON.stringify(name)} is not a safe relative path`);
}
