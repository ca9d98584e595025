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
