import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createCipheriv, createHash } from "node:crypto";
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

  it("hashes the bytes as it takes them: its sha256 is the file's, though chunks are scribbled over once released", async () => {
    const file = path.join(dir, "hashed.bin");
    const sink = await openFileSink(file, 64, { sha256: true, onReleased: (c) => c.fill(0xee) });
    const chunks = [pattern(10, 1), pattern(200, 2), pattern(60, 3), pattern(5000, 4), pattern(1, 5), pattern(64, 6)];
    const expected = Buffer.concat(chunks.map((c) => Buffer.from(c)));
    for (const c of chunks) await sink.write(c);
    expect(() => sink.sha256).toThrow(/once it is closed/);
    await sink.close();
    const onDisk = fs.readFileSync(file);
    expect(onDisk.equals(expected)).toBe(true);
    // One pass over the file as read back, as a store would hash it.
    expect(sink.sha256).toBe(createHash("sha256").update(onDisk).digest("hex"));
    const plain = await openFileSink(path.join(dir, "plain.bin"));
    await plain.close();
    expect(() => plain.sha256).toThrow(/sha256 option/);
  });

  it("hashes chunks of shared memory where they lie, and hands each back only once written and hashed", async () => {
    const file = path.join(dir, "shared.bin");
    const memory = new Uint8Array(new SharedArrayBuffer(32 << 20));
    memory.set(createCipheriv("aes-128-ctr", Buffer.alloc(16, 3), Buffer.alloc(16)).update(Buffer.alloc(memory.length)));
    const expected = Buffer.from(memory);
    const released: Uint8Array[] = [];
    // Scribbled over when handed back: handed back before it was hashed, it would change the hash.
    const sink = await openFileSink(file, 4096, { sha256: true, onReleased: (c) => (released.push(c), c.fill(0xee)) });
    const chunks = [memory.subarray(0, 100), memory.subarray(100, 8 << 20), memory.subarray(8 << 20, (8 << 20) + 3000), memory.subarray((8 << 20) + 3000)];
    for (const c of chunks) await sink.write(c);
    await sink.close();
    expect(fs.readFileSync(file).equals(expected)).toBe(true);
    expect(sink.sha256).toBe(createHash("sha256").update(expected).digest("hex"));
    expect(new Set(released)).toEqual(new Set(chunks));
  });

  it("writes large chunks from the caller's memory, many per writev, releasing each only once written, with bounded pending bytes", async () => {
    const file = path.join(dir, "big.bin");
    const released = new Set<Uint8Array>();
    let maxUnreleased = 0;
    const handedOver: Uint8Array[] = [];
    // Scribbled over when released: a chunk released before it was written would corrupt the file.
    const sink = await openFileSink(file, 4096, {
      onReleased: (c) => {
        expect(released.has(c)).toBe(false);
        released.add(c);
        c.fill(0xee);
      },
      maxPendingBytes: 64 << 10,
      syncEveryBytes: 100 << 10,
    });
    const parts: Buffer[] = [];
    for (let i = 0; i < 300; i++) {
      // mostly chunks above the copy threshold (written by reference), some small ones between
      const size = i % 7 === 3 ? 1 + (i % 50) : 4096 + i * 13;
      const chunk = pattern(size, i);
      parts.push(Buffer.from(chunk));
      handedOver.push(chunk);
      await sink.write(chunk);
      const unreleased = handedOver.filter((c) => !released.has(c)).reduce((s, c) => s + c.byteLength, 0);
      maxUnreleased = Math.max(maxUnreleased, unreleased);
    }
    await sink.close();
    const expected = Buffer.concat(parts);
    expect(sink.bytesWritten).toBe(expected.length);
    expect(fs.readFileSync(file).equals(expected)).toBe(true);
    expect(released.size).toBe(handedOver.length);
    // write() waits while more than maxPendingBytes are accepted but unwritten
    expect(maxUnreleased).toBeLessThanOrEqual(64 << 10);
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

  it("fsyncs on close by default, and not at all with sync: false (scratch files)", async () => {
    const probe = await fs.promises.open(path.join(dir, "probe"), "w");
    const proto = Object.getPrototypeOf(probe) as { sync: () => Promise<void>; datasync: () => Promise<void> };
    await probe.close();
    const sync = jest.spyOn(proto, "sync");
    const datasync = jest.spyOn(proto, "datasync");
    try {
      const big = pattern(3000, 9);
      const durable = await openFileSink(path.join(dir, "durable.bin"), 64, { syncEveryBytes: 1000 });
      await durable.write(big);
      await durable.close();
      expect(sync).toHaveBeenCalledTimes(1);
      expect(datasync).toHaveBeenCalled();
      sync.mockClear();
      datasync.mockClear();
      const scratch = await openFileSink(path.join(dir, "scratch.bin"), 64, { syncEveryBytes: 1000, sync: false });
      await scratch.write(big);
      await scratch.close();
      expect(sync).not.toHaveBeenCalled();
      expect(datasync).not.toHaveBeenCalled();
      expect(fs.readFileSync(path.join(dir, "scratch.bin")).equals(Buffer.from(big))).toBe(true);
    } finally {
      sync.mockRestore();
      datasync.mockRestore();
    }
  });
});
