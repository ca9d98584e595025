import { spawnSync } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import * as path from "node:path";
import { startBackgroundSha256 } from "./backgroundSha256";

// The reference is node's own one-pass sha256 over the concatenated bytes.

/** n pseudo-random bytes (AES-CTR keyed by the seed), in shared memory if asked. */
function filled(n: number, seed: number, shared = false): Uint8Array {
  const bytes = shared ? new Uint8Array(new SharedArrayBuffer(n)) : new Uint8Array(n);
  const key = Buffer.alloc(16, seed);
  bytes.set(createCipheriv("aes-128-ctr", key, Buffer.alloc(16)).update(Buffer.alloc(n)));
  return bytes;
}

const sha = (pieces: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const p of pieces) h.update(p);
  return h.digest("hex");
};

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; !done(); i++) {
    if (i > 2000) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe("startBackgroundSha256", () => {
  it("hashes copied pieces of every size, including empty ones and ones larger than its ring, in order", async () => {
    const pieces = [0, 1, 63, 64, 65, 4096, 1 << 20, (4 << 20) + 17, 3, 10 << 20, 0, 777].map((n, i) => filled(n, i));
    const expected = sha(pieces);
    const hash = startBackgroundSha256();
    for (const p of pieces) {
      const ticket = hash.update(p, false);
      if (typeof ticket !== "number") await ticket;
      p.fill(0xaa); // copied: the caller may reuse the bytes at once
    }
    expect(await hash.digest()).toBe(expected);
  });

  it("hashes pieces of shared memory where they lie, and says when each is done so the caller can reuse it", async () => {
    const memory = filled(3 << 20, 9, true);
    const views = [memory.subarray(0, 1 << 20), memory.subarray(1 << 20, 2 << 20), memory.subarray(5, 100), memory.subarray(2 << 20)];
    const expected = sha(views.map((v) => v.slice()));
    const hash = startBackgroundSha256();
    const tickets: number[] = [];
    for (const v of views) {
      const ticket = hash.update(v, true);
      tickets.push(typeof ticket === "number" ? ticket : await ticket);
    }
    expect(tickets).toEqual([...tickets].sort((a, b) => a - b));
    await until(() => hash.hashed(tickets[tickets.length - 1]));
    expect(tickets.every((t) => hash.hashed(t))).toBe(true);
    memory.fill(0x55); // every piece is hashed: scribbling over them no longer matters
    expect(await hash.digest()).toBe(expected);
  });

  it("mixes pieces by reference and copies in one stream, and its next stream starts afresh", async () => {
    const shared = filled(1 << 20, 4, true);
    const pieces = [filled(10, 1), shared.subarray(0, 500_000), filled(70_000, 2), shared.subarray(500_000)];
    const expected = sha(pieces.map((p) => p.slice()));
    const first = startBackgroundSha256();
    for (const [i, p] of pieces.entries()) {
      const t = first.update(p, i % 2 === 1);
      if (typeof t !== "number") await t;
    }
    expect(await first.digest()).toBe(expected);
    expect(() => first.update(filled(1, 1), false)).toThrow(/finished/);
    const second = startBackgroundSha256(); // the kept thread, with nothing of the first stream left
    const more = [filled(12345, 7)];
    second.update(more[0], false);
    expect(await second.digest()).toBe(sha(more));
    const empty = startBackgroundSha256();
    expect(await empty.digest()).toBe(sha([]));
  });

  it("abandons a stream with abort, and the next stream gives a correct digest", async () => {
    const dropped = startBackgroundSha256();
    dropped.update(filled(2 << 20, 3), false);
    dropped.abort();
    const next = startBackgroundSha256();
    const pieces = [filled(99_999, 8)];
    next.update(pieces[0], false);
    expect(await next.digest()).toBe(sha(pieces));
  });

  it("never holds a process open: one that hashed something exits at once", () => {
    const hook = path.resolve(__dirname, "..", "..", "..", "scripts", "ts-hook.js");
    const script = `require(${JSON.stringify(hook)});
      const { startBackgroundSha256 } = require(${JSON.stringify(path.join(__dirname, "backgroundSha256.ts"))});
      const h = startBackgroundSha256();
      h.update(new Uint8Array(1000), false);
      h.digest().then((hex) => { console.log(hex); globalThis.started = Date.now(); });`;
    const t0 = Date.now();
    const run = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 20_000 });
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe(createHash("sha256").update(new Uint8Array(1000)).digest("hex"));
    // The kept thread would hold it for 30 s if it were referenced.
    expect(Date.now() - t0).toBeLessThan(15_000);
  });
});
