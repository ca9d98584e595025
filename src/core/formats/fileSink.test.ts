import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { openFileSink } from "./fileSink";

describe("openFileSink", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "file-sink-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const pattern = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

  it("writes every chunk in order, small ones batched and large ones in the background, and releases each only when done with it", async () => {
    const file = path.join(dir, "out.bin");
    const released: Uint8Array[] = [];
    // A released chunk is scribbled over at once, as a recycling caller would: the file must not see it.
    const sink = await openFileSink(file, 64, { onReleased: (c) => (released.push(c), c.fill(0xee)) });
    const chunks = [pattern(10, 1), pattern(200, 2), pattern(60, 3), pattern(64, 4), pattern(5, 5), pattern(1000, 6)];
    const expected = Buffer.concat(chunks.map((c) => Buffer.from(c)));
    for (const c of chunks) await sink.write(c);
    expect(sink.bytesWritten).toBe(expected.length);
    await sink.close();
    expect(fs.readFileSync(file).equals(expected)).toBe(true);
    expect(released).toHaveLength(chunks.length);
    expect(new Set(released)).toEqual(new Set(chunks));
  });

  it("refuses an existing file and removes its own on abort", async () => {
    const file = path.join(dir, "out.bin");
    fs.writeFileSync(file, "x");
    await expect(openFileSink(file)).rejects.toThrow(/EEXIST/);
    fs.rmSync(file);
    const sink = await openFileSink(file, 16);
    await sink.write(pattern(100, 1));
    await sink.abort();
    expect(fs.existsSync(file)).toBe(false);
  });
});
