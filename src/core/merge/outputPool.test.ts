import { OutputPool } from "./outputPool";

describe("OutputPool", () => {
  it("reuses a recycled buffer for a later tensor of the same or a smaller size", () => {
    const pool = new OutputPool(1 << 20);
    const a = pool.take(1000);
    pool.recycle(a);
    const b = pool.take(1000);
    expect(b.buffer).toBe(a.buffer);
    pool.recycle(b);
    const c = pool.take(10);
    expect(c.buffer).toBe(a.buffer);
    expect(c.byteLength).toBe(10);
    // c is out: a new take gets fresh memory
    expect(pool.take(10).buffer).not.toBe(a.buffer);
  });

  it("ignores buffers it did not hand out, pieces of them, and second returns", () => {
    const pool = new OutputPool(1 << 20);
    const a = pool.take(100);
    pool.recycle(a.subarray(0, 50));
    pool.recycle(new Uint8Array(100));
    expect(pool.take(100).buffer).not.toBe(a.buffer);
    pool.recycle(a);
    pool.recycle(a);
    const b = pool.take(100);
    expect(b.buffer).toBe(a.buffer);
    expect(pool.take(100).buffer).not.toBe(a.buffer);
  });

  it("keeps at most its budget, dropping the smallest buffers first, and never one over a quarter of it", () => {
    const pool = new OutputPool(1000);
    const big = pool.take(250);
    const mid = pool.take(200);
    const small = pool.take(100);
    const huge = pool.take(251);
    for (const b of [small, mid, big, huge]) pool.recycle(b);
    // kept: 250 + 200 + 100 = 550 ≤ 1000; 251 > 1000 / 4 is not kept
    expect(pool.take(251).buffer).not.toBe(huge.buffer);
    expect(pool.take(240).buffer).toBe(big.buffer);
    // budget 400: 100 + 100 + 100 + 50 kept (350); one more 100 makes 450 → the 50 goes
    const v = new OutputPool(400);
    const parts = [v.take(100), v.take(100), v.take(100), v.take(50), v.take(100)];
    parts.forEach((b) => v.recycle(b));
    const reused = [v.take(50), v.take(50), v.take(50), v.take(50)].map((b) => b.buffer);
    expect(new Set(reused)).toEqual(new Set([0, 1, 2, 4].map((i) => parts[i].buffer)));
    expect(v.take(50).buffer).not.toBe(parts[3].buffer);
  });
});
