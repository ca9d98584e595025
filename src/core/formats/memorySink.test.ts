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

  it("is empty after abort", async () => {
    const sink = openMemorySink(4);
    await sink.write(Uint8Array.of(1, 2, 3, 4));
    await sink.abort();
    expect(sink.bytesWritten).toBe(0);
    expect(sink.bytes.byteLength).toBe(0);
  });
});
