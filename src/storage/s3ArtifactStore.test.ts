import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { CreateMultipartUploadCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { ArtifactIntegrityError, S3ArtifactStore, S3ArtifactStoreOptions } from "./s3ArtifactStore";
import { S3TestServer, motoServerInstalled, startMotoServer, startS3rver } from "./testing/s3TestServer";
import { buildSegNet } from "../core/formats/onnx/testing/buildSegNet";
import { parseModelFile } from "../core/formats/parseModelFile";

const MiB = 1024 * 1024;

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Independent of the store: node's sha256 over the whole buffer at once. */
const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** Bytes that differ from part to part, so parts stitched in the wrong order change the hash. */
function patterned(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function* chunksOf(bytes: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

/** The S3 operations a client sends, in order, seen by a middleware (not by the store). */
function recordCommands(client: S3Client): string[] {
  const seen: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      seen.push(String(context.commandName).replace(/Command$/, ""));
      return next(args);
    },
    { step: "initialize", name: "recordCommands" },
  );
  return seen;
}

const count = (seen: string[], name: string) => seen.filter((s) => s === name).length;

const servers: Array<[string, () => Promise<S3TestServer | null>, boolean]> = [
  ["s3rver (npm, in process)", startS3rver, true],
  // moto implements what s3rver lacks (abort of multipart uploads, UploadPartCopy); it runs where
  // `moto_server` is installed (apt-get install -y python3-moto) and is reported skipped elsewhere.
  ["moto_server (child process)", startMotoServer, motoServerInstalled()],
];

describe.each(servers)("S3ArtifactStore on %s", (_name, start, available) => {
  const suite = available ? describe : describe.skip;
  suite("", () => {
    let server: S3TestServer;
    let cacheRoot: string;
    const clients: S3Client[] = [];
    let bucketNo = 0;

    beforeAll(async () => {
      const started = await start();
      if (!started) throw new Error(`${_name} is installed but did not start`);
      server = started;
    }, 30_000);
    afterAll(async () => {
      for (const c of clients) c.destroy();
      await server?.close();
    });
    beforeEach(() => {
      cacheRoot = fs.mkdtempSync(path.join(os.tmpdir(), "lm-s3cache-"));
    });
    afterEach(() => fs.rmSync(cacheRoot, { recursive: true, force: true }));

    /** A fresh bucket and a store on it whose client records every command. */
    async function fresh(options: Partial<S3ArtifactStoreOptions> = {}) {
      const bucket = `lm-test-${++bucketNo}-${randomBytes(3).toString("hex")}`;
      await server.createBucket(bucket);
      const client = server.newClient();
      clients.push(client);
      const seen = recordCommands(client);
      const store = new S3ArtifactStore({ client, bucket, prefix: "models/", cacheDir: path.join(cacheRoot, "artifacts"), partSize: 5 * MiB, ...options });
      return { bucket, store, seen, client };
    }

    test("adoptFile uploads a local file under the hash it was given, checking it, and removes the file", async () => {
      const { bucket, store } = await fresh();
      const bytes = Buffer.alloc(6 * MiB + 3, 9);
      const expected = sha(bytes);
      const dir = fs.mkdtempSync(path.join(store.scratchDir, "lm-adopt-"));
      try {
        const file = path.join(dir, "merged.onnx");
        fs.writeFileSync(file, bytes);
        await expect(store.adoptFile(file, { sha256: "f".repeat(64), sizeBytes: bytes.length })).rejects.toMatchObject({ code: "BAD_USER_INPUT" });
        expect(await server.listKeys(bucket)).toEqual([]);
        expect(await store.adoptFile(file, { sha256: expected, sizeBytes: bytes.length })).toEqual({ sha256: expected, sizeBytes: bytes.length, created: true });
        expect(fs.existsSync(file)).toBe(false);
        expect(await collect(await store.read(expected))).toEqual(bytes);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    test("put: content-addressed key, stat, ranged and whole reads, the same bytes stored once", async () => {
      const { bucket, store, seen } = await fresh();
      const bytes = Buffer.from("layer-wise merging of segmentation models");
      const expected = sha(bytes);
      const first = await store.put(Readable.from([bytes.subarray(0, 10), bytes.subarray(10)]));
      expect(first).toEqual({ sha256: expected, sizeBytes: bytes.length, created: true });
      // <prefix>/sha256/<ab>/<cd>/<sha256>, and no temporary object left.
      expect(await server.listKeys(bucket)).toEqual([`models/sha256/${expected.slice(0, 2)}/${expected.slice(2, 4)}/${expected}`]);
      expect(await store.stat(expected)).toEqual({ sha256: expected, sizeBytes: bytes.length });
      // bytes 6..10 inclusive of "layer-wise…" are "wise " (l0 a1 y2 e3 r4 -5 w6 i7 s8 e9 ' '10).
      expect((await collect(await store.read(expected, { start: 6, end: 10 }))).toString()).toBe("wise ");
      expect(await collect(await store.read(expected))).toEqual(bytes);

      const before = seen.length;
      const second = await store.put(Readable.from([bytes]));
      expect(second).toEqual({ sha256: expected, sizeBytes: bytes.length, created: false });
      expect(seen.slice(before)).not.toContain("CopyObject");
      expect(await server.listKeys(bucket)).toHaveLength(1);

      expect(await store.stat(sha(Buffer.from("never stored")))).toBeNull();
      await expect(store.stat("../../etc/passwd")).rejects.toMatchObject({ code: "BAD_USER_INPUT" });
      await expect(store.read(expected, { start: 5, end: 2 })).rejects.toMatchObject({ code: "BAD_USER_INPUT" });
      await expect(store.read(sha(Buffer.from("never stored")))).rejects.toMatchObject({ code: "NOT_FOUND" });
    });

    test("an empty blob is a blob (sha256 of nothing)", async () => {
      const { store } = await fresh();
      // The sha256 of the empty string, as published in FIPS 180-2 test vectors.
      const empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
      expect(await store.put(Readable.from([]))).toEqual({ sha256: empty, sizeBytes: 0, created: true });
      expect(await store.stat(empty)).toEqual({ sha256: empty, sizeBytes: 0 });
    });

    test("a wrong expectedSha256 keeps nothing", async () => {
      const { bucket, store } = await fresh();
      await expect(store.put(Readable.from([Buffer.from("abc")]), { expectedSha256: "0".repeat(64) })).rejects.toMatchObject({ code: "BAD_USER_INPUT" });
      expect(await server.listKeys(bucket)).toEqual([]);
    });

    test("over the limit: PAYLOAD_TOO_LARGE and nothing kept, single-part and multipart", async () => {
      const { bucket, store, seen } = await fresh();
      await expect(store.put(Readable.from([Buffer.alloc(600), Buffer.alloc(600)]), { maxBytes: 1000 })).rejects.toMatchObject({ code: "PAYLOAD_TOO_LARGE" });
      expect(await server.listKeys(bucket)).toEqual([]);

      // 3 chunks of 4 MiB against an 11 MiB limit: the 5 MiB first part is under way (or sent)
      // when the third chunk crosses the limit at 12 MiB.
      const big = patterned(12 * MiB, 7);
      await expect(store.put(Readable.from(chunksOf(big, 4 * MiB)), { maxBytes: 11 * MiB })).rejects.toMatchObject({ code: "PAYLOAD_TOO_LARGE" });
      expect(count(seen, "CreateMultipartUpload")).toBe(1);
      expect(count(seen, "CompleteMultipartUpload")).toBe(0);
      expect(count(seen, "AbortMultipartUpload")).toBe(1);
      expect(await server.listKeys(bucket)).toEqual([]);
      if (server.supports.listMultipartUploads) expect(await server.listMultipartUploads(bucket)).toEqual([]);

      await expect(store.putFile(writeTemp(cacheRoot, Buffer.alloc(2000)), { maxBytes: 1000 })).rejects.toMatchObject({ code: "PAYLOAD_TOO_LARGE" });
      expect(await server.listKeys(bucket)).toEqual([]);
    });

    test("a body that fails midway keeps nothing and reports its own error", async () => {
      const { bucket, store } = await fresh();
      async function* broken() {
        yield Buffer.alloc(100);
        throw new Error("connection reset");
      }
      await expect(store.put(broken())).rejects.toThrow("connection reset");
      expect(await server.listKeys(bucket)).toEqual([]);
    });

    test("multipart: 11 MiB + 3 bytes in 5 MiB parts is 3 parts, bytes intact across part boundaries", async () => {
      const { bucket, store, seen } = await fresh();
      const bytes = patterned(11 * MiB + 3, 42);
      const file = writeTemp(cacheRoot, bytes);
      const blob = await store.putFile(file);
      // ceil((11 MiB + 3) / 5 MiB) = 3 parts: 5 MiB, 5 MiB, 1 MiB + 3.
      expect(count(seen, "CreateMultipartUpload")).toBe(1);
      expect(count(seen, "UploadPart")).toBe(3);
      expect(count(seen, "CompleteMultipartUpload")).toBe(1);
      expect(blob).toEqual({ sha256: sha(bytes), sizeBytes: bytes.length, created: true });
      expect(await server.listKeys(bucket)).toHaveLength(1);
      const boundary = 5 * MiB;
      expect(await collect(await store.read(blob.sha256, { start: boundary - 2, end: boundary + 2 }))).toEqual(bytes.subarray(boundary - 2, boundary + 3));
      expect(sha(await collect(await store.read(blob.sha256)))).toBe(sha(bytes));
    });

    test("localPath: downloads once into the cache, verified; a corrupted object is refused and not kept", async () => {
      const { bucket, store, seen, client } = await fresh();
      const bytes = patterned(300_000, 3);
      const { sha256 } = await store.put(Readable.from([bytes]));
      const cacheDir = path.join(cacheRoot, "artifacts");

      const local = await store.localPath(sha256);
      expect(local.path).toBe(path.join(cacheDir, sha256));
      expect(sha(fs.readFileSync(local.path))).toBe(sha256);
      const gets = count(seen, "GetObject");
      const again = await store.localPath(sha256);
      expect(again.path).toBe(local.path);
      expect(count(seen, "GetObject")).toBe(gets);
      await again.release();
      await local.release();
      expect(fs.existsSync(local.path)).toBe(true);

      // Bit rot on the server: same key, same length, one byte flipped.
      const rotten = Buffer.from(bytes);
      rotten[150_000] ^= 0x01;
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: store.keyOf(sha256), Body: rotten }));
      fs.rmSync(local.path);
      const error = await store.localPath(sha256).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ArtifactIntegrityError);
      expect(error).toMatchObject({ code: "ARTIFACT_CORRUPT", sha256, actualSha256: sha(rotten), actualBytes: rotten.length });
      expect((error as Error).message).toContain(sha256);
      expect(fs.readdirSync(cacheDir).filter((n) => n !== "tmp")).toEqual([]);
      expect(fs.readdirSync(path.join(cacheDir, "tmp"))).toEqual([]);
      // A whole read of the corrupt object ends in the same error instead of finishing.
      await expect(collect(await store.read(sha256))).rejects.toBeInstanceOf(ArtifactIntegrityError);
    });

    test("the cache is bounded: least recently used evicted first, blobs in use never", async () => {
      const n = 100_000;
      const { store } = await fresh({ cacheBytes: Math.floor(2.5 * n) });
      const [a, b, c] = await Promise.all([1, 2, 3].map(async (seed) => (await store.put(Readable.from([patterned(n, seed)]))).sha256));
      const cacheDir = path.join(cacheRoot, "artifacts");
      const cached = () => fs.readdirSync(cacheDir).filter((name) => name !== "tmp").sort();
      const use = async (sha256: string) => {
        await (await store.localPath(sha256)).release();
        await sleep(25); // distinct mtimes
      };
      await use(a);
      await use(b);
      await use(a); // a is now more recent than b
      await use(c); // 3 × 100,000 > 250,000: evict the least recent, b
      expect(cached()).toEqual([a, c].sort());

      // A blob in use is never evicted, even when it is the least recently used.
      const held = await store.localPath(a); // a touched: c, then a
      await sleep(25);
      await use(b); // c, a, b = 300,000: c goes
      expect(cached()).toEqual([a, b].sort());
      await use(c); // a (held), b, c = 300,000: a is the oldest but held, so b goes
      expect(cached()).toEqual([a, c].sort());
      expect(fs.readFileSync(held.path)).toEqual(patterned(n, 1));
      await held.release();
    });

    test("partial downloads left by a dead process are swept; a live one is not", async () => {
      const { store } = await fresh();
      const tmp = path.join(cacheRoot, "artifacts", "tmp");
      fs.mkdirSync(tmp, { recursive: true });
      const stale = path.join(tmp, "dead.partial");
      const live = path.join(tmp, "live.partial");
      fs.writeFileSync(stale, "x");
      fs.writeFileSync(live, "y");
      const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
      fs.utimesSync(stale, twoHoursAgo, twoHoursAgo);
      const { sha256 } = await store.put(Readable.from([Buffer.from("sweep")]));
      await (await store.localPath(sha256)).release();
      expect(fs.readdirSync(tmp)).toEqual(["live.partial"]);
    });

    test("sweepTemporary removes what dead uploads left under tmp/, and nothing else", async () => {
      const { bucket, store, client } = await fresh();
      const { sha256 } = await store.put(Readable.from([Buffer.from("kept")]));
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: "models/tmp/dead-object", Body: Buffer.from("half") }));
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: "elsewhere/tmp/not-ours", Body: Buffer.from("x") }));
      if (server.supports.listMultipartUploads) await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "models/tmp/dead-upload" }));

      // Everything is seconds old: a day's threshold keeps it all — except on a server that
      // dates every multipart upload to 2010, where the upload looks a day old and goes now.
      const { listMultipartUploads: lists, uploadInitiatedTimes: dated } = server.supports;
      expect(await store.sweepTemporary()).toEqual({ objects: 0, uploads: lists ? (dated ? 0 : 1) : null });
      await sleep(1100); // LastModified has whole-second resolution
      expect(await store.sweepTemporary(0)).toEqual({ objects: 1, uploads: lists ? (dated ? 1 : 0) : null });
      expect(await server.listKeys(bucket)).toEqual(["elsewhere/tmp/not-ours", store.keyOf(sha256)].sort());
      if (server.supports.listMultipartUploads) expect(await server.listMultipartUploads(bucket)).toEqual([]);
    });

    test("list: blobs in sha256 order with size and LastModified, paged after a hash; temporaries are not blobs", async () => {
      const { bucket, store, client } = await fresh();
      const contents = Array.from({ length: 5 }, (_, i) => Buffer.from(`object ${i} `.repeat(i + 1)));
      for (const c of contents) await store.put(Readable.from([c]));
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: "models/tmp/123-0123456789abcdef", Body: Buffer.from("half") }));
      const expected = contents.map((c) => ({ sha256: sha(c), sizeBytes: c.length })).sort((a, b) => (a.sha256 < b.sha256 ? -1 : 1));
      const all = await store.list({ limit: 100 });
      expect(all.map(({ sha256, sizeBytes }) => ({ sha256, sizeBytes }))).toEqual(expected);
      for (const b of all) expect(Math.abs(b.storedAt.getTime() - Date.now())).toBeLessThan(10 * 60_000);
      expect((await store.list({ limit: 2 })).map((b) => b.sha256)).toEqual(expected.slice(0, 2).map((e) => e.sha256));
      expect((await store.list({ after: expected[1]!.sha256, limit: 2 })).map((b) => b.sha256)).toEqual(expected.slice(2, 4).map((e) => e.sha256));
      expect((await store.list({ after: expected[4]!.sha256, limit: 2 }))).toEqual([]);
    });

    test("delete removes the object and the cached copy", async () => {
      const { bucket, store } = await fresh();
      const { sha256 } = await store.put(Readable.from([Buffer.from("to be deleted")]));
      const local = await store.localPath(sha256);
      await local.release();
      await store.delete(sha256);
      expect(await store.stat(sha256)).toBeNull();
      expect(await server.listKeys(bucket)).toEqual([]);
      expect(fs.existsSync(local.path)).toBe(false);
      await expect(store.localPath(sha256)).rejects.toMatchObject({ code: "NOT_FOUND" });
    });

    test("check: fine on the bucket, an error on a missing one", async () => {
      const { store, client } = await fresh();
      await expect(store.check()).resolves.toBeUndefined();
      const missing = new S3ArtifactStore({ client, bucket: "lm-no-such-bucket", prefix: "", cacheDir: cacheRoot });
      await expect(missing.check()).rejects.toThrow();
    });

    test("above maxCopyObjectBytes the blob is published with UploadPartCopy (S3 limits CopyObject to 5 GiB)", async () => {
      const { bucket, store, seen } = await fresh({ maxCopyObjectBytes: 5 * MiB, copyPartSize: 5 * MiB });
      const bytes = patterned(11 * MiB + 5, 9);
      const put = store.put(Readable.from(chunksOf(bytes, MiB)));
      if (!server.supports.uploadPartCopy) {
        // The server refuses the copy: the store reports it and leaves nothing under a hash.
        await expect(put).rejects.toThrow();
        expect(await server.listKeys(bucket)).toEqual([]);
        return;
      }
      const blob = await put;
      // ceil((11 MiB + 5) / 5 MiB) = 3 copied parts.
      expect(count(seen, "UploadPartCopy")).toBe(3);
      expect(count(seen, "CopyObject")).toBe(0);
      expect(blob.sha256).toBe(sha(bytes));
      expect(await server.listKeys(bucket)).toEqual([store.keyOf(blob.sha256)]);
      expect(await server.listMultipartUploads(bucket)).toEqual([]);
      expect(sha(await collect(await store.read(blob.sha256)))).toBe(sha(bytes));
    });
  });
});

function writeTemp(dir: string, bytes: Buffer): string {
  const file = path.join(dir, `upload-${randomBytes(4).toString("hex")}.bin`);
  fs.writeFileSync(file, bytes);
  return file;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("S3ArtifactStore as registration and merges use it", () => {
  let server: S3TestServer;
  let dir: string;
  beforeAll(async () => {
    server = await startS3rver();
    await server.createBucket("lm-smoke");
  });
  afterAll(async () => server.close());
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-s3smoke-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("an uploaded ONNX model parses from its cached copy, and a tensor read by byte range is the tensor", async () => {
    const store = new S3ArtifactStore({ client: server.client, bucket: "lm-smoke", prefix: "lm", cacheDir: path.join(dir, "cache") });
    const net = buildSegNet();
    const bytes = Buffer.from(net.bytes);
    // As PUT /artifacts does: the request body streamed in, then HEAD via stat, then parse a local copy.
    const blob = await store.put(Readable.from(chunksOf(bytes, 1000)), { maxBytes: 1 << 20 });
    expect(blob.sha256).toBe(sha(bytes));
    expect(await store.stat(blob.sha256)).toEqual({ sha256: blob.sha256, sizeBytes: bytes.length });
    const local = await store.localPath(blob.sha256);
    const parsed = parseModelFile(local.path);
    await local.release();
    // buildSegNet's defaults, counted by hand (see test/registration.test.ts): stem 216 + 8,
    // layer1 576 + 8, gamma 8, conv_seg 32 + 4 = 852 parameter elements.
    expect(parsed.tensors.filter((t) => t.mergeable).reduce((n, t) => n + t.elements, 0)).toBe(852);
    const weight = parsed.tensors.find((t) => t.name === "backbone.layer1.conv.weight")!;
    expect(weight.location.kind).toBe("raw");
    const { offset, length } = weight.location as { offset: number; length: number };
    expect(length).toBe(576 * 4); // 8·8·3·3 float32
    const ranged = await collect(await store.read(blob.sha256, { start: offset, end: offset + length - 1 }));
    expect(ranged).toEqual(bytes.subarray(offset, offset + length));
  });
});
