import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { FsArtifactStore } from "./fsArtifactStore";

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe("FsArtifactStore", () => {
  let root: string;
  let store: FsArtifactStore;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "lm-store-"));
    store = new FsArtifactStore(root);
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  test("stores by sha256 computed independently, once per content", async () => {
    const bytes = Buffer.from("layer-wise merging of segmentation models");
    const expected = createHash("sha256").update(bytes).digest("hex");
    const first = await store.put(Readable.from([bytes.subarray(0, 10), bytes.subarray(10)]));
    expect(first).toEqual({ sha256: expected, sizeBytes: bytes.length, created: true });
    const second = await store.put(Readable.from([bytes]));
    expect(second.created).toBe(false);
    expect(fs.readFileSync(path.join(root, expected.slice(0, 2), expected.slice(2, 4), expected))).toEqual(bytes);
    expect(fs.readdirSync(path.join(root, "tmp"))).toEqual([]);
    expect(await collect(await store.read(expected, { start: 6, end: 10 }))).toEqual(bytes.subarray(6, 11));
    expect(await store.stat(expected)).toEqual({ sha256: expected, sizeBytes: bytes.length });
  });

  test("adoptFile renames a finished file into place (same inode, no copy), dedups, and refuses a wrong size or hash", async () => {
    const bytes = Buffer.from("merged weights, fsync'd by the merge");
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const file = path.join(store.scratchDir, "merged.onnx");
    fs.writeFileSync(file, bytes);
    const inode = fs.statSync(file).ino;
    expect(await store.adoptFile(file, { sha256, sizeBytes: bytes.length })).toEqual({ sha256, sizeBytes: bytes.length, created: true });
    const stored = path.join(root, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
    expect(fs.statSync(stored).ino).toBe(inode);
    expect(fs.readFileSync(stored)).toEqual(bytes);
    expect(fs.existsSync(file)).toBe(false);
    // the same bytes again: stored once, the new file dropped
    fs.writeFileSync(file, bytes);
    expect(await store.adoptFile(file, { sha256, sizeBytes: bytes.length })).toEqual({ sha256, sizeBytes: bytes.length, created: false });
    expect(fs.existsSync(file)).toBe(false);
    fs.writeFileSync(file, bytes);
    await expect(store.adoptFile(file, { sha256, sizeBytes: bytes.length + 1 })).rejects.toThrow(/hashed with/);
    await expect(store.adoptFile(file, { sha256: "not-a-hash", sizeBytes: bytes.length })).rejects.toMatchObject({ code: "BAD_USER_INPUT" });
  });

  const shm = fs.existsSync("/dev/shm") && fs.statSync("/dev/shm").dev !== fs.statSync(os.tmpdir()).dev ? test : test.skip;
  shm("adoptFile from another filesystem copies the file in, checking the hash it was given", async () => {
    const dir = fs.mkdtempSync("/dev/shm/lm-adopt-");
    try {
      const bytes = Buffer.alloc(5 << 20, 7);
      const sha256 = createHash("sha256").update(bytes).digest("hex");
      const file = path.join(dir, "merged.safetensors");
      fs.writeFileSync(file, bytes);
      await expect(store.adoptFile(file, { sha256: "0".repeat(64), sizeBytes: bytes.length })).rejects.toMatchObject({ code: "BAD_USER_INPUT" });
      expect(fs.readdirSync(path.join(root, "tmp"))).toEqual([]);
      expect(await store.adoptFile(file, { sha256, sizeBytes: bytes.length })).toEqual({ sha256, sizeBytes: bytes.length, created: true });
      expect(fs.existsSync(file)).toBe(false);
      expect((await store.stat(sha256))?.sizeBytes).toBe(bytes.length);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("list: every blob in sha256 order with size and mtime, paged after a hash", async () => {
    const contents = Array.from({ length: 7 }, (_, i) => Buffer.from(`blob number ${i}`.repeat(i + 1)));
    for (const c of contents) await store.put(Readable.from([c]));
    const expected = contents.map((c) => ({ sha256: createHash("sha256").update(c).digest("hex"), sizeBytes: c.length })).sort((a, b) => (a.sha256 < b.sha256 ? -1 : 1));
    fs.writeFileSync(path.join(root, "tmp", "123-0123456789abcdef"), "not a blob");
    const all = await store.list({ limit: 100 });
    expect(all.map(({ sha256, sizeBytes }) => ({ sha256, sizeBytes }))).toEqual(expected);
    for (const b of all) expect(b.storedAt.getTime()).toBe(Math.floor(fs.statSync(path.join(root, b.sha256.slice(0, 2), b.sha256.slice(2, 4), b.sha256)).mtimeMs));
    const paged: string[] = [];
    for (let after: string | null = null; ; ) {
      const page = await store.list({ after, limit: 3 });
      paged.push(...page.map((b) => b.sha256));
      if (page.length < 3) break;
      after = page[page.length - 1]!.sha256;
    }
    expect(paged).toEqual(expected.map((e) => e.sha256));
    expect(await store.list({ after: expected[5]!.sha256, limit: 10 })).toHaveLength(1);
  });

  test("storing bytes already stored renews their age; sweepTemporary removes only old temporary files", async () => {
    const bytes = Buffer.from("uploaded twice");
    const { sha256 } = await store.put(Readable.from([bytes]));
    const file = path.join(root, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
    // Whole seconds: utimes takes float seconds, so a millisecond part may come back one lower.
    const longAgo = new Date(Math.floor((Date.now() - 48 * 3_600_000) / 1000) * 1000);
    fs.utimesSync(file, longAgo, longAgo);
    expect((await store.list({ limit: 1 }))[0]!.storedAt.getTime()).toBe(longAgo.getTime());
    expect((await store.put(Readable.from([bytes]))).created).toBe(false);
    expect(Date.now() - fs.statSync(file).mtimeMs).toBeLessThan(60_000);

    const tmp = path.join(root, "tmp");
    const old = path.join(tmp, `${Date.now() - 7_200_000}-00112233445566ff`);
    const fresh = path.join(tmp, `${Date.now()}-ffeeddccbbaa0099`);
    const foreign = path.join(tmp, "someone-elses-file");
    for (const f of [old, fresh, foreign]) fs.writeFileSync(f, "x");
    for (const f of [old, foreign]) fs.utimesSync(f, longAgo, longAgo);
    expect(await store.sweepTemporary(3_600_000)).toEqual({ objects: 1, uploads: null });
    expect(fs.readdirSync(tmp).sort()).toEqual([path.basename(fresh), "someone-elses-file"].sort());
  });

  test("an upload over the limit keeps nothing", async () => {
    await expect(store.put(Readable.from([Buffer.alloc(600), Buffer.alloc(600)]), { maxBytes: 1000 })).rejects.toMatchObject({ code: "PAYLOAD_TOO_LARGE" });
    expect(fs.readdirSync(path.join(root, "tmp"))).toEqual([]);
    expect(fs.readdirSync(root)).toEqual(["tmp"]);
  });

  test("a stream that fails midway keeps nothing", async () => {
    async function* broken() {
      yield Buffer.alloc(100);
      throw new Error("connection reset");
    }
    await expect(store.put(broken())).rejects.toThrow("connection reset");
    expect(fs.readdirSync(path.join(root, "tmp"))).toEqual([]);
  });

  test("bad hashes are refused before touching the disk", async () => {
    await expect(store.stat("../../etc/passwd")).rejects.toMatchObject({ code: "BAD_USER_INPUT" });
  });
});
