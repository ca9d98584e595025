import { prefetch } from "./prefetch";

describe("prefetch", () => {
  it("keeps order and reads at most `depth` items ahead of the consumer", async () => {
    const started: number[] = [];
    async function* source() {
      for (let i = 0; i < 5; i++) {
        started.push(i);
        await new Promise((r) => setTimeout(r, 1));
        yield i;
      }
    }
    const seen: number[] = [];
    for await (const x of prefetch(source(), 2)) {
      seen.push(x);
      await new Promise((r) => setTimeout(r, 10));
      // consumer holds item x; the source has started at most x + 2 (items x+1 and x+2 ahead)
      expect(started.length).toBeLessThanOrEqual(Math.min(x + 3, 5));
      if (x === 0) expect(started.length).toBe(3); // and it does read ahead
    }
    expect(seen).toEqual([0, 1, 2, 3, 4]);
  });

  it("passes the source's error through at the failing item", async () => {
    async function* source() {
      yield 1;
      throw new Error("labels/b.png cannot be decoded");
    }
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const x of prefetch(source(), 3)) seen.push(x);
      })(),
    ).rejects.toThrow(/labels\/b\.png/);
    expect(seen).toEqual([1]);
  });
});
