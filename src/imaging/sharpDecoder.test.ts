import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import sharp from "sharp";
import { SharpDecoder } from "./sharpDecoder";

describe("SharpDecoder", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "lm-sharp-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const decoder = new SharpDecoder();

  it("keeps single-channel label PNGs single-channel with their exact values", async () => {
    const values = [0, 1, 2, 255, 7, 19];
    const path = join(dir, "label.png");
    await sharp(Buffer.from(values), { raw: { width: 3, height: 2, channels: 1 } }).toColourspace("b-w").png().toFile(path);
    const img = await decoder.decode(path);
    expect(img).toMatchObject({ width: 3, height: 2, channels: 1 });
    expect(Array.from(img.data)).toEqual(values);
    expect(await decoder.probe(path)).toEqual({ width: 3, height: 2, channels: 1 });
  });

  it("decodes RGB PNGs exactly (panoptic ids survive)", async () => {
    // two pixels with ids 1 + 256·2 + 65536·3 and 255 + 0 + 65536·128
    const rgb = [1, 2, 3, 255, 0, 128];
    const path = join(dir, "pan.png");
    await sharp(Buffer.from(rgb), { raw: { width: 2, height: 1, channels: 3 } }).png().toFile(path);
    const img = await decoder.decode(path);
    expect(img).toMatchObject({ width: 2, height: 1, channels: 3 });
    expect(Array.from(img.data)).toEqual(rgb);
  });

  it("decodes JPEG to RGB of the right size", async () => {
    const path = join(dir, "img.jpg");
    await sharp({ create: { width: 5, height: 4, channels: 3, background: { r: 200, g: 100, b: 50 } } }).jpeg({ quality: 100 }).toFile(path);
    const img = await decoder.decode(path);
    expect(img).toMatchObject({ width: 5, height: 4, channels: 3 });
    // a flat colour survives JPEG within a couple of levels
    expect(Math.abs(img.data[0] - 200)).toBeLessThanOrEqual(2);
    expect(Math.abs(img.data[1] - 100)).toBeLessThanOrEqual(2);
  });

  it("refuses 16-bit files and unreadable ones", async () => {
    const p16 = join(dir, "deep.png");
    await sharp(Buffer.from([0, 1, 2, 3]), { raw: { width: 2, height: 2, channels: 1 } }).toColourspace("grey16").png().toFile(p16);
    await expect(decoder.decode(p16)).rejects.toThrow(/ushort samples are not supported/);
    const bad = join(dir, "bad.png");
    writeFileSync(bad, "not a png");
    await expect(decoder.decode(bad)).rejects.toThrow();
  });
});
