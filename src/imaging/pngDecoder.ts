import { open } from "fs/promises";
import { crc32, inflateSync } from "zlib";
import type { DecodedImage, ImageDecoder } from "../core/eval/datasets/ImageDecoder";
import { SharpDecoder } from "./sharpDecoder";

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** PNG colour types decoded here → channels: greyscale, RGB, RGBA. */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 6: 4 };

/**
 * The PNG files evaluation reads most — 8-bit greyscale labels, 8-bit RGB/RGBA images, not
 * interlaced, no transparency chunk — decoded by zlib and a row unfilter on the calling thread;
 * anything else (palette, 16-bit, grey + alpha, interlaced, tRNS, JPEG, a damaged file) returns
 * null and is left to sharp. Samples are the file's own, as SharpDecoder returns them: labels stay
 * single-channel, no colour or gamma conversion.
 *
 * Why not sharp for these: on a 2-core machine the evaluation wants one core for onnxruntime and
 * the other for everything else. sharp decodes on libuv's pool (a second and third busy thread
 * beside the main one, taking turns on the model's core) and costs a header read, a thread hop
 * and a libvips pipeline per file — for a 1024² label PNG more than the inflate itself.
 */
export function decodePng(file: Uint8Array): DecodedImage | null {
  if (file.length < 8 + 25 || SIGNATURE.some((b, i) => file[i] !== b)) return null;
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Uint8Array[] = [];
  let ended = false;
  for (let p = 8; p + 12 <= file.length; ) {
    const length = view.getUint32(p);
    const end = p + 12 + length;
    if (end > file.length) return null;
    const type = String.fromCharCode(file[p + 4], file[p + 5], file[p + 6], file[p + 7]);
    const data = file.subarray(p + 8, p + 8 + length);
    // Chunk CRCs are checked except IDAT's: zlib's Adler-32 already checks the pixel stream, and CRC over megabytes costs.
    if (type !== "IDAT" && crc32(file.subarray(p + 4, p + 8 + length)) !== view.getUint32(p + 8 + length)) return null;
    if (p === 8) {
      // IHDR: width, height, bit depth 8, a colour type of CHANNELS, compression 0, filter 0, interlace 0
      if (type !== "IHDR" || length !== 13) return null;
      width = view.getUint32(p + 8);
      height = view.getUint32(p + 12);
      channels = CHANNELS[data[9]] ?? 0;
      if (data[8] !== 8 || channels === 0 || data[10] !== 0 || data[11] !== 0 || data[12] !== 0 || width === 0 || height === 0) return null;
    } else if (type === "IDAT") {
      idat.push(data);
    } else if (type === "IEND") {
      ended = true;
      break;
    } else if (type === "tRNS" || type === "PLTE") {
      return null; // sharp adds an alpha channel for tRNS; PLTE on RGB is only a suggestion, but keep to the plain files
    } else if ((file[p + 4] & 0x20) === 0) {
      return null; // an unknown critical chunk
    }
    p = end;
  }
  if (!ended || idat.length === 0) return null;
  const stride = width * channels;
  const expected = height * (stride + 1);
  let raw: Buffer;
  try {
    raw = inflateSync(joined(idat), { chunkSize: Math.max(64, Math.min(expected + 1, 2 ** 30)), maxOutputLength: expected });
  } catch {
    return null;
  }
  if (raw.length !== expected) return null;
  if (!unfilter(raw, height, stride, channels)) return null;
  return { width, height, channels, data: raw.subarray(0, height * stride) };
}

/**
 * The stream of a file's IDAT chunks in one piece (encoders write it in chunks of a few KiB),
 * gathered into memory kept for the next file: a fresh buffer per image cost more than the copy.
 * Streams over KEPT_IDAT_BYTES get a buffer of their own.
 */
const KEPT_IDAT_BYTES = 64 * 2 ** 20;
let idatScratch: Buffer = Buffer.alloc(0);
function joined(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  let total = 0;
  for (const c of chunks) total += c.length;
  if (total > KEPT_IDAT_BYTES) return Buffer.concat(chunks, total);
  if (idatScratch.length < total) idatScratch = Buffer.allocUnsafe(total);
  let at = 0;
  for (const c of chunks) {
    idatScratch.set(c, at);
    at += c.length;
  }
  return idatScratch.subarray(0, total);
}

/**
 * Undoes PNG's per-row filters (None, Sub, Up, Average, Paeth) in place: `raw` holds a filter byte
 * and `stride` filtered bytes per row, and row y's pixels end at y · stride, before its own bytes
 * in `raw`; every byte overwritten has been read already (rows top to bottom, bytes left to right,
 * the row above in place before the row that reads it).
 */
function unfilter(raw: Uint8Array, height: number, stride: number, bpp: number): boolean {
  const out = raw;
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const s = y * (stride + 1) + 1;
    const o = y * stride;
    const u = o - stride; // the row above; absent (zeros) on the first row
    switch (filter) {
      case 0:
        out.copyWithin(o, s, s + stride);
        break;
      case 1:
        for (let i = 0; i < bpp; i++) out[o + i] = raw[s + i];
        for (let i = bpp; i < stride; i++) out[o + i] = (raw[s + i] + out[o + i - bpp]) & 255;
        break;
      case 2:
        if (y === 0) out.copyWithin(o, s, s + stride);
        else for (let i = 0; i < stride; i++) out[o + i] = (raw[s + i] + out[u + i]) & 255;
        break;
      case 3:
        if (y === 0) {
          for (let i = 0; i < bpp; i++) out[o + i] = raw[s + i];
          for (let i = bpp; i < stride; i++) out[o + i] = (raw[s + i] + (out[o + i - bpp] >> 1)) & 255;
        } else {
          for (let i = 0; i < bpp; i++) out[o + i] = (raw[s + i] + (out[u + i] >> 1)) & 255;
          for (let i = bpp; i < stride; i++) out[o + i] = (raw[s + i] + ((out[o + i - bpp] + out[u + i]) >> 1)) & 255;
        }
        break;
      case 4:
        if (y === 0) {
          // Paeth with no row above predicts the left neighbour: Sub
          for (let i = 0; i < bpp; i++) out[o + i] = raw[s + i];
          for (let i = bpp; i < stride; i++) out[o + i] = (raw[s + i] + out[o + i - bpp]) & 255;
        } else {
          for (let i = 0; i < bpp; i++) out[o + i] = (raw[s + i] + out[u + i]) & 255;
          for (let i = bpp; i < stride; i++) {
            const a = out[o + i - bpp];
            const b = out[u + i];
            const c = out[u + i - bpp];
            const pa = Math.abs(b - c);
            const pb = Math.abs(a - c);
            const pc = Math.abs(a + b - 2 * c);
            out[o + i] = (raw[s + i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 255;
          }
        }
        break;
      default:
        return false;
    }
  }
  return true;
}

/**
 * ImageDecoder that decodes plain 8-bit PNGs itself (decodePng), on the calling thread, and hands
 * every other file to sharp. Decoding on the evaluation's own thread serialises it with scoring,
 * so an evaluation keeps to two busy threads: onnxruntime's and this one.
 */
export class FastPngDecoder implements ImageDecoder {
  /** Header-only sizes come from the fallback (sharp reads only the header too). */
  readonly probe?: (path: string) => Promise<{ width: number; height: number; channels: number }>;

  constructor(private readonly fallback: ImageDecoder = new SharpDecoder()) {
    if (fallback.probe) this.probe = (path) => fallback.probe!(path);
  }

  async decode(path: string): Promise<DecodedImage> {
    if (!/\.png$/i.test(path)) return this.fallback.decode(path);
    const file = await readWhole(path);
    return decodePng(file) ?? this.fallback.decode(path);
  }
}

/** The file in one read (fs.promises.readFile reads in small chunks, several times slower for megabyte images). */
async function readWhole(path: string): Promise<Uint8Array> {
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    const buffer = Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await handle.read(buffer, filled, size - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, filled);
  } finally {
    await handle.close();
  }
}
