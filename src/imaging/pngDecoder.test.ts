import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import sharp from "sharp";
import { crc32, deflateSync } from "zlib";
import { prng } from "../core/testing/prng";
import { decodePng, FastPngDecoder } from "./pngDecoder";
import { SharpDecoder } from "./sharpDecoder";

/** A PNG written by hand: rows filtered with the given filter types in turn (the encoder side of each filter, per the PNG spec). */
function encodePng(width: number, height: number, channels: 1 | 3 | 4, pixels: Uint8Array, filters: number[], split = 1): Buffer {
  const stride = width * channels;
  const raw = Buffer.alloc(height * (stride + 1));
  const at = (y: number, i: number) => (y < 0 || i < 0 ? 0 : pixels[y * stride + i]);
  for (let y = 0; y < height; y++) {
    const f = filters[y % filters.length];
    raw[y * (stride + 1)] = f;
    for (let i = 0; i < stride; i++) {
      const x = at(y, i), a = at(y, i - channels), b = at(y - 1, i), c = at(y - 1, i - channels);
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const pred = [0, a, b, Math.floor((a + b) / 2), paeth][f];
      raw[y * (stride + 1) + 1 + i] = (x - pred) & 255;
    }
  }
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, "latin1");
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = { 1: 0, 3: 2, 4: 6 }[channels];
  const z = deflateSync(raw);
  const parts = Array.from({ length: split }, (_, k) => chunk("IDAT", z.subarray(Math.floor((k * z.length) / split), Math.floor(((k + 1) * z.length) / split))));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), ...parts, chunk("IEND", Buffer.alloc(0))]);
}

describe("decodePng", () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), "lm-png-"))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    [1, [0, 1, 2, 3, 4]],
    [3, [4, 3, 2, 1, 0]],
    [4, [1, 4, 3, 2, 0]],
    [3, [4]],
    [1, [3]],
  ] as const)("%i channel(s), filters %j: the pixels written, as sharp decodes them", async (channels, filters) => {
    const random = prng(channels * 10 + filters[0]);
    const width = 13;
    const height = 11;
    // smooth ramps plus noise, so predictions and wrap-around (& 255) both happen
    const pixels = Uint8Array.from({ length: width * height * channels }, (_, i) => (i * 7 + Math.floor(random() * 40)) & 255);
    const file = encodePng(width, height, channels, pixels, [...filters], 3);
    const got = decodePng(file);
    expect(got).toMatchObject({ width, height, channels });
    expect(Array.from(got!.data)).toEqual(Array.from(pixels));
    const path = join(dir, `f${channels}-${filters.join("")}.png`);
    writeFileSync(path, file);
    const bySharp = await new SharpDecoder().decode(path);
    expect({ channels: bySharp.channels, data: Array.from(bySharp.data) }).toEqual({ channels, data: Array.from(pixels) });
  });

  it("decodes what sharp writes (labels and RGB images) to sharp's own samples", async () => {
    const random = prng(3);
    const label = Buffer.from(Array.from({ length: 40 * 30 }, (_, i) => (Math.floor(i / 97) % 5 === 0 ? 255 : Math.floor(i / 211))));
    const rgb = Buffer.from(Array.from({ length: 40 * 30 * 3 }, () => Math.floor(random() * 256)));
    const lp = join(dir, "label.png");
    const ip = join(dir, "image.png");
    await sharp(label, { raw: { width: 40, height: 30, channels: 1 } }).toColourspace("b-w").png({ adaptiveFiltering: true }).toFile(lp);
    await sharp(rgb, { raw: { width: 40, height: 30, channels: 3 } }).png({ compressionLevel: 9, adaptiveFiltering: true }).toFile(ip);
    for (const p of [lp, ip]) {
      const fast = await new FastPngDecoder(undefined).decode(p);
      const ref = await new SharpDecoder().decode(p);
      expect({ ...fast, data: Array.from(fast.data) }).toEqual({ ...ref, data: Array.from(ref.data) });
    }
    expect(decodePng(readFileSync(lp))).not.toBeNull();
  });

  it("leaves palette, 16-bit, interlaced, transparent-colour and damaged files to sharp (null)", async () => {
    const px = Buffer.from([0, 50, 100, 150, 200, 250, 10, 20, 30, 40, 50, 60]);
    const palette = await sharp(px, { raw: { width: 2, height: 2, channels: 3 } }).png({ palette: true }).toBuffer();
    const deep = await sharp(Buffer.from([0, 1, 2, 3]), { raw: { width: 2, height: 2, channels: 1 } }).toColourspace("grey16").png().toBuffer();
    const interlaced = await sharp(px, { raw: { width: 2, height: 2, channels: 3 } }).png({ progressive: true }).toBuffer();
    for (const file of [palette, deep, interlaced]) expect(decodePng(file)).toBeNull();
    // tRNS inserted after IHDR of a valid grey file
    const grey = encodePng(2, 2, 1, Uint8Array.of(1, 2, 3, 4), [0]);
    expect(decodePng(grey)).not.toBeNull();
    const trnsData = Buffer.from([0, 3]);
    const trns = Buffer.concat([Buffer.from([0, 0, 0, 2]), Buffer.from("tRNS", "latin1"), trnsData, Buffer.alloc(4)]);
    trns.writeUInt32BE(crc32(Buffer.concat([Buffer.from("tRNS", "latin1"), trnsData])), 10);
    expect(decodePng(Buffer.concat([grey.subarray(0, 33), trns, grey.subarray(33)]))).toBeNull();
    // a flipped byte in the pixel data (Adler-32 mismatch), one in the header (CRC mismatch), a truncated file
    const bad = Buffer.from(grey);
    bad[45] ^= 1;
    expect(decodePng(bad)).toBeNull();
    const badHeader = Buffer.from(grey);
    badHeader[20] ^= 1;
    expect(decodePng(badHeader)).toBeNull();
    expect(decodePng(grey.subarray(0, grey.length - 12))).toBeNull();
  });

  it("FastPngDecoder gives sharp's result and errors for files it leaves to sharp", async () => {
    const px = Buffer.from([0, 50, 100, 150, 200, 250, 10, 20, 30, 40, 50, 60]);
    const pal = join(dir, "pal.png");
    await sharp(px, { raw: { width: 2, height: 2, channels: 3 } }).png({ palette: true }).toFile(pal);
    const fast = await new FastPngDecoder().decode(pal);
    expect(fast).toEqual(await new SharpDecoder().decode(pal));
    const bad = join(dir, "bad.png");
    writeFileSync(bad, "not a png");
    await expect(new FastPngDecoder().decode(bad)).rejects.toThrow();
  });
});
