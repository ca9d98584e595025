import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as os from "node:os";
import { createHash, randomBytes } from "node:crypto";
import { Readable, Transform, pipeline } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { DomainError, badInput, invariant, notFound } from "../core/errors";
import { ArtifactStore, BlobInfo, ListedBlob, SHA256_PATTERN, StoredBlob } from "./artifactStore";
import { BlobCache } from "./blobCache";

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
/** S3 refuses more parts than this in one multipart upload. */
const MAX_PARTS = 10_000;
/** S3's smallest part (all but the last); lib-storage refuses smaller. */
const MIN_PART_BYTES = 5 * MiB;
/** The largest object a single CopyObject may copy (S3 API reference, CopyObject). */
const MAX_COPY_OBJECT_BYTES = 5 * GiB;

export interface S3ArtifactStoreOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix without leading or trailing slash; "" stores at the bucket's root. */
  prefix: string;
  /** Where `localPath` keeps downloaded blobs (`<LAYERMERGE_DATA_DIR>/cache/artifacts`). */
  cacheDir: string;
  /** Bound on the cache's total size (LAYERMERGE_CACHE_BYTES); default 20 GiB. */
  cacheBytes?: number;
  /** Multipart upload part size; default 8 MiB, at least 5 MiB. Raised when needed to stay within 10,000 parts. */
  partSize?: number;
  /** Parts uploaded at once; memory held is about partSize × (queueSize + 1). Default 4. */
  queueSize?: number;
  /** Blobs above this are published with UploadPartCopy instead of CopyObject; default (and S3's maximum) 5 GiB. */
  maxCopyObjectBytes?: number;
  /** Part size for UploadPartCopy; default 512 MiB (10,000 × 512 MiB covers S3's 5 TiB object limit). */
  copyPartSize?: number;
  /** Shown by /healthz and logs; defaults to `s3://bucket/prefix`. */
  description?: string;
}

/** A blob whose bytes do not hash to its name: the stored object is corrupt (or was replaced). */
export class ArtifactIntegrityError extends Error {
  readonly code = "ARTIFACT_CORRUPT";
  constructor(
    readonly sha256: string,
    readonly actualSha256: string,
    readonly actualBytes: number,
    where: string,
  ) {
    super(`artifact ${sha256} at ${where} is corrupt: its ${actualBytes} bytes hash to ${actualSha256}; upload the original file again or delete the artifact`);
    this.name = "ArtifactIntegrityError";
  }
}

/**
 * Blobs in an S3-compatible bucket under `<prefix>/sha256/<ab>/<cd>/<sha256>`.
 *
 * A put streams to `<prefix>/tmp/<random>` (multipart, hashed on the way), and only once the hash
 * is known is the object copied to its content key and the temporary deleted — so a key named
 * after a hash only ever holds those bytes, and an interrupted upload leaves at most a temporary
 * object or an incomplete multipart upload. Crashed processes can leave those behind; the API's
 * upload sweep removes them (`sweepTemporary`), and a bucket lifecycle rule that expires
 * `<prefix>/tmp/` and aborts incomplete multipart uploads after a day does no harm.
 *
 * Two processes storing the same new bytes at the same moment both copy (identical bytes, last
 * writer wins) and both answer `created: true`; S3 offers no conditional CopyObject to prevent it,
 * and the outcome is still one object.
 */
export class S3ArtifactStore implements ArtifactStore {
  readonly remote = true;
  readonly description: string;
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly cache: BlobCache;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly maxCopyObjectBytes: number;
  private readonly copyPartSize: number;
  /** Temporary keys of puts under way in this process (the sweep leaves them alone). */
  private readonly uploading = new Set<string>();

  constructor(options: S3ArtifactStoreOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = options.prefix.replace(/^\/+|\/+$/g, "");
    this.description = options.description ?? `s3://${this.bucket}/${this.prefix}`;
    this.partSize = options.partSize ?? 8 * MiB;
    this.queueSize = options.queueSize ?? 4;
    this.maxCopyObjectBytes = Math.min(options.maxCopyObjectBytes ?? MAX_COPY_OBJECT_BYTES, MAX_COPY_OBJECT_BYTES);
    this.copyPartSize = options.copyPartSize ?? 512 * MiB;
    invariant(this.partSize >= MIN_PART_BYTES, `S3 part size ${this.partSize} is below S3's minimum of ${MIN_PART_BYTES} bytes`);
    invariant(this.copyPartSize >= MIN_PART_BYTES && this.copyPartSize <= MAX_COPY_OBJECT_BYTES, `S3 copy part size ${this.copyPartSize} is outside 5 MiB…5 GiB`);
    this.cache = new BlobCache(options.cacheDir, options.cacheBytes ?? 20 * GiB);
  }

  keyOf(sha256: string): string {
    if (!SHA256_PATTERN.test(sha256)) throw badInput(`${JSON.stringify(sha256)} is not a sha256 (64 lowercase hex digits)`, "sha256");
    return this.key("sha256", sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  async put(body: AsyncIterable<Uint8Array> | Readable, options: { maxBytes?: number; expectedSha256?: string } = {}): Promise<StoredBlob> {
    return this.upload(body, options.maxBytes, undefined, options.expectedSha256);
  }

  get scratchDir(): string {
    return os.tmpdir();
  }

  async adoptFile(file: string, blob: { sha256: string; sizeBytes: number }): Promise<StoredBlob> {
    const stored = await this.upload(fs.createReadStream(file, { highWaterMark: 4 * MiB }), undefined, blob.sizeBytes, blob.sha256);
    await fsp.rm(file, { force: true });
    return stored;
  }

  async putFile(file: string, options: { maxBytes?: number } = {}): Promise<StoredBlob> {
    const { size } = await fsp.stat(file);
    if (options.maxBytes !== undefined && size > options.maxBytes) throw tooLarge(options.maxBytes, `${file} (${size} bytes)`);
    return this.upload(fs.createReadStream(file, { highWaterMark: 4 * MiB }), options.maxBytes, size, undefined);
  }

  private async upload(body: AsyncIterable<Uint8Array> | Readable, maxBytes: number | undefined, sizeHint: number | undefined, expectedSha256: string | undefined): Promise<StoredBlob> {
    const tmpKey = this.key("tmp", `${Date.now()}-${randomBytes(8).toString("hex")}`);
    this.uploading.add(tmpKey);
    const hash = createHash("sha256");
    let size = 0;
    let bodyError: unknown;
    async function* hashed(): AsyncGenerator<Uint8Array> {
      try {
        for await (const chunk of body as AsyncIterable<Uint8Array>) {
          size += chunk.byteLength;
          // Checked before the chunk goes out, so an oversized upload is aborted, not completed.
          if (maxBytes !== undefined && size > maxBytes) throw tooLarge(maxBytes, "the upload");
          hash.update(chunk);
          yield chunk;
        }
      } catch (error) {
        bodyError = error;
        throw error;
      }
    }
    try {
      // lib-storage aborts the multipart upload itself when the body fails (leavePartsOnError: false).
      await new Upload({
        client: this.client,
        params: { Bucket: this.bucket, Key: tmpKey, Body: Readable.from(hashed()), ContentType: "application/octet-stream" },
        partSize: this.partSizeFor(sizeHint ?? maxBytes),
        queueSize: this.queueSize,
        leavePartsOnError: false,
      })
        .done()
        // When the abort itself fails, lib-storage reports that failure; the caller needs the cause.
        .catch((error: unknown) => {
          throw bodyError ?? error;
        });
      const sha256 = hash.digest("hex");
      if (expectedSha256 && expectedSha256 !== sha256) {
        throw badInput(`the uploaded bytes hash to ${sha256}, not the expected ${expectedSha256}`, "sha256");
      }
      const existing = await this.stat(sha256);
      if (existing) {
        invariant(existing.sizeBytes === size, `blob ${sha256} in ${this.description} has ${existing.sizeBytes} bytes, the new copy ${size}`);
        return { sha256, sizeBytes: size, created: false };
      }
      await this.copy(tmpKey, this.keyOf(sha256), size);
      return { sha256, sizeBytes: size, created: true };
    } finally {
      // A failed single-part upload never created the key; deleting a missing key is not an error in S3.
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: tmpKey })).catch(() => undefined);
      this.uploading.delete(tmpKey);
    }
  }

  /** Big enough that a blob of `bytes` fits in S3's 10,000 parts. */
  private partSizeFor(bytes: number | undefined): number {
    return Math.max(this.partSize, bytes === undefined ? 0 : Math.ceil(bytes / MAX_PARTS));
  }

  private async copy(fromKey: string, toKey: string, size: number): Promise<void> {
    const CopySource = copySource(this.bucket, fromKey);
    if (size <= this.maxCopyObjectBytes) {
      await this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: toKey, CopySource, ContentType: "application/octet-stream", MetadataDirective: "REPLACE" }));
      return;
    }
    // CopyObject stops at 5 GiB; larger objects are copied server-side part by part, and the
    // content key appears only when CompleteMultipartUpload succeeds.
    const partSize = Math.max(this.copyPartSize, Math.ceil(size / MAX_PARTS));
    const { UploadId } = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: toKey, ContentType: "application/octet-stream" }));
    invariant(UploadId, "CreateMultipartUpload returned no UploadId");
    try {
      const ranges: Array<{ PartNumber: number; start: number; end: number }> = [];
      for (let start = 0, n = 1; start < size; start += partSize, n++) ranges.push({ PartNumber: n, start, end: Math.min(start + partSize, size) - 1 });
      const parts = await mapLimited(ranges, this.queueSize, async ({ PartNumber, start, end }) => {
        const { CopyPartResult } = await this.client.send(
          new UploadPartCopyCommand({ Bucket: this.bucket, Key: toKey, UploadId, PartNumber, CopySource, CopySourceRange: `bytes=${start}-${end}` }),
        );
        invariant(CopyPartResult?.ETag, `UploadPartCopy part ${PartNumber} returned no ETag`);
        return { PartNumber, ETag: CopyPartResult.ETag };
      });
      await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: toKey, UploadId, MultipartUpload: { Parts: parts } }));
    } catch (error) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: toKey, UploadId })).catch(() => undefined);
      throw error;
    }
  }

  async stat(sha256: string): Promise<BlobInfo | null> {
    const Key = this.keyOf(sha256);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return { sha256, sizeBytes: head.ContentLength ?? 0 };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  /**
   * A whole-blob read is verified as it streams: if the bytes do not hash to `sha256` the stream
   * ends in an ArtifactIntegrityError instead of finishing (an HTTP client sees a reset, not a
   * good file). A ranged read cannot be verified on its own; merges and parsers go through
   * `localPath`, which is.
   */
  async read(sha256: string, range?: { start: number; end: number }): Promise<Readable> {
    const Key = this.keyOf(sha256);
    if (range && !(Number.isSafeInteger(range.start) && Number.isSafeInteger(range.end) && 0 <= range.start && range.start <= range.end)) {
      throw badInput(`byte range ${range.start}-${range.end} of artifact ${sha256} is not a range 0 ≤ start ≤ end`, "range");
    }
    const body = await this.getObject(sha256, Key, range ? `bytes=${range.start}-${range.end}` : undefined);
    if (range) return body;
    // pipeline, not pipe: a consumer that stops early must also close the S3 response.
    return pipeline(body, verifyingTransform(sha256, this.where(Key)), () => undefined);
  }

  /**
   * Downloads into the cache (verified against the sha256; a mismatch removes the file and
   * throws ArtifactIntegrityError) or reuses the cached copy. `release` does not delete: it marks
   * the copy as no longer in use by this process so the LRU may evict it.
   */
  async localPath(sha256: string): Promise<{ path: string; release(): Promise<void> }> {
    const Key = this.keyOf(sha256);
    return this.cache.acquire(sha256, (tmpFile) => this.download(sha256, Key, tmpFile));
  }

  private async download(sha256: string, Key: string, tmpFile: string): Promise<void> {
    const body = await this.getObject(sha256, Key, undefined);
    const hash = createHash("sha256");
    let size = 0;
    const handle = await fsp.open(tmpFile, "wx");
    try {
      for await (const chunk of body as AsyncIterable<Uint8Array>) {
        size += chunk.byteLength;
        hash.update(chunk);
        let written = 0;
        while (written < chunk.byteLength) {
          const { bytesWritten } = await handle.write(chunk, written, chunk.byteLength - written);
          written += bytesWritten;
        }
      }
      const actual = hash.digest("hex");
      if (actual !== sha256) throw new ArtifactIntegrityError(sha256, actual, size, this.where(Key));
      // Synced before the cache renames it into place, so a crash never leaves a torn file under the hash.
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  private async getObject(sha256: string, Key: string, Range: string | undefined): Promise<Readable> {
    try {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key, Range }));
      invariant(object.Body, `GetObject ${Key} returned no body`);
      return object.Body as Readable;
    } catch (error) {
      if (isNotFound(error)) throw notFound("artifact", sha256, "sha256");
      throw error;
    }
  }

  async delete(sha256: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(sha256) }));
    await this.cache.remove(sha256);
  }

  async check(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
  }

  async list(options: { after?: string | null; limit: number }): Promise<ListedBlob[]> {
    const Prefix = this.key("sha256") + "/";
    const out: ListedBlob[] = [];
    // Keys are <prefix>/sha256/<ab>/<cd>/<sha256>: their lexicographic order is the hashes'.
    // Pages of the server's default size, each starting after the last key seen (no continuation
    // tokens, and no small MaxKeys: s3rver fails to produce a token for a truncated page).
    let StartAfter = options.after ? this.keyOf(options.after) : undefined;
    while (out.length < options.limit) {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix, StartAfter }));
      const contents = page.Contents ?? [];
      for (const object of contents) {
        const sha256 = object.Key?.slice(object.Key.lastIndexOf("/") + 1) ?? "";
        if (!SHA256_PATTERN.test(sha256) || object.Key !== this.keyOf(sha256)) continue;
        // A Date of this realm (see FsArtifactStore.list).
        out.push({ sha256, sizeBytes: object.Size ?? 0, storedAt: new Date(object.LastModified ? object.LastModified.getTime() : 0) });
      }
      if (!page.IsTruncated || contents.length === 0) break;
      StartAfter = contents[contents.length - 1]!.Key;
    }
    return out.slice(0, options.limit);
  }

  /**
   * Removes what interrupted puts left under `<prefix>/tmp/`: objects and incomplete multipart
   * uploads older than `olderThanMs` (default a day). A put under way in this process is never
   * touched. Another process's put is judged by its age — the later of the time the server
   * reports (LastModified, Initiated) and the time in its key (`<ms>-<hex>`, written when the put
   * began), since some servers report a fixed date for uploads — so the TTL must exceed the
   * longest upload. `uploads` is null when the server does not implement ListMultipartUploads.
   */
  async sweepTemporary(olderThanMs = 24 * 60 * 60 * 1000): Promise<{ objects: number; uploads: number | null }> {
    const cutoff = Date.now() - olderThanMs;
    const Prefix = this.key("tmp") + "/";
    const dead = (key: string, serverTime: Date | undefined) => {
      if (this.uploading.has(key) || !serverTime) return false;
      const began = /\/(\d{13})-[0-9a-f]{16}$/.exec(key);
      return Math.max(serverTime.getTime(), began ? Number(began[1]) : 0) < cutoff;
    };
    let objects = 0;
    let ContinuationToken: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix, ContinuationToken }));
      for (const object of page.Contents ?? []) {
        if (object.Key && dead(object.Key, object.LastModified)) {
          await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: object.Key }));
          objects++;
        }
      }
      ContinuationToken = page.NextContinuationToken;
    } while (ContinuationToken);

    let uploads = 0;
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    try {
      for (;;) {
        const page = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix, KeyMarker, UploadIdMarker }));
        for (const upload of page.Uploads ?? []) {
          if (upload.Key && upload.UploadId && dead(upload.Key, upload.Initiated)) {
            await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: upload.Key, UploadId: upload.UploadId }));
            uploads++;
          }
        }
        if (!page.IsTruncated) break;
        KeyMarker = page.NextKeyMarker;
        UploadIdMarker = page.NextUploadIdMarker;
      }
    } catch (error) {
      const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === "NotImplemented" || e.$metadata?.httpStatusCode === 501) return { objects, uploads: null };
      throw error;
    }
    return { objects, uploads };
  }

  /** Closes the client's sockets; the store is unusable afterwards. */
  close(): void {
    this.client.destroy();
  }

  private key(...parts: string[]): string {
    return [this.prefix, ...parts].filter(Boolean).join("/");
  }

  private where(Key: string): string {
    return `s3://${this.bucket}/${Key}`;
  }
}


function verifyingTransform(sha256: string, where: string): Transform {
  const hash = createHash("sha256");
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      size += chunk.byteLength;
      hash.update(chunk);
      callback(null, chunk);
    },
    flush(callback) {
      const actual = hash.digest("hex");
      callback(actual === sha256 ? null : new ArtifactIntegrityError(sha256, actual, size, where));
    },
  });
}

function tooLarge(maxBytes: number, what: string): DomainError {
  return new DomainError("PAYLOAD_TOO_LARGE", `${what} exceeds the limit of ${maxBytes} bytes (LAYERMERGE_MAX_UPLOAD_BYTES)`, { details: { maxBytes } });
}

function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.$metadata?.httpStatusCode === 404 || e?.name === "NotFound" || e?.name === "NoSuchKey";
}

/** `bucket/key` with the key URL-encoded, as CopySource requires (slashes kept). */
function copySource(bucket: string, key: string): string {
  return `${bucket}/${encodeURIComponent(key).replace(/%2F/g, "/")}`;
}

async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const lane = async () => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        results[i] = await fn(items[i]);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}
