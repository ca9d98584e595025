import { openMemorySink } from "./memorySink";

describe("openMemorySink", () => {
  it("holds every chunk in order, growing past a too small expected size, and hands each chunk back once copied", async () => {
    const released: Uint8Array[] = [];
    const sink = openMemorySink(3, { onReleased: (c) => released.push(c) });
    const chunks = [Uint8Array.of(1, 2), Uint8Array.of(3, 4, 5, 6, 7), Uint8Array.of(), Uint8Array.of(8)];
    for (const c of chunks) await sink.write(c);
    // The caller reuses a released chunk: the sink's bytes must not change with it.
    chunks[1].fill(0);
    await sink.close();
    expect(Array.from(sink.bytes)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(sink.bytesWritten).toBe(8);
    expect(released).toEqual(chunks);
    await expect(sink.write(Uint8Array.of(9))).rejects.toThrow(/closed/);
  });

  it("writes into the caller's buffer when it is large enough, and into its own when not", async () => {
    const mine = new Uint8Array(8).fill(9);
    const sink = openMemorySink(4, { buffer: mine });
    await sink.write(Uint8Array.of(1, 2, 3));
    await sink.close();
    expect(sink.bytes.buffer).toBe(mine.buffer);
    expect(Array.from(sink.bytes)).toEqual([1, 2, 3]);
    expect(Array.from(mine)).toEqual([1, 2, 3, 9, 9, 9, 9, 9]);
    const small = new Uint8Array(2).fill(7);
    const other = openMemorySink(4, { buffer: small });
    await other.write(Uint8Array.of(1, 2, 3, 4));
    await other.close();
    expect(other.bytes.buffer).not.toBe(small.buffer);
    expect(Array.from(other.bytes)).toEqual([1, 2, 3, 4]);
    expect(Array.from(small)).toEqual([7, 7]);
  });

  it("is empty after abort", async () => {
    const sink = openMemorySink(4);
    await sink.write(Uint8Array.of(1, 2, 3, 4));
    await sink.abort();
    expect(sink.bytesWritten).toBe(0);
    expect(sink.bytes.byteLength).toBe(0);
  });
});
