import type { Readable } from "node:stream";

export interface StoredBlob {
  sha256: string;
  sizeBytes: number;
  /** False when the same bytes were already stored (nothing new was written). */
  created: boolean;
}

export interface BlobInfo {
  sha256: string;
  sizeBytes: number;
}

export interface ListedBlob extends BlobInfo {
  /** When the blob was stored (file mtime, object LastModified): its age for the upload sweep. */
  storedAt: Date;
}

/**
 * Content-addressed blob storage: a blob's key is the sha256 of its bytes. Implementations must
 * never expose a partial blob under a real hash (write elsewhere, verify, then publish).
 */
export interface ArtifactStore {
  /** Streams `body` in, hashing as it goes; refuses (PAYLOAD_TOO_LARGE) past `maxBytes`. */
  put(body: AsyncIterable<Uint8Array> | Readable, options?: { maxBytes?: number; expectedSha256?: string }): Promise<StoredBlob>;
  /** Copies a local file in (imports). */
  putFile(path: string, options?: { maxBytes?: number }): Promise<StoredBlob>;
  /**
   * Takes in a finished, fsync'd local file whose sha256 and size the caller computed (a merge's
   * output, hashed in a pool thread): the file store renames it into place when it lies on the
   * store's filesystem (no copy, no hashing on this thread), others upload it (checking the hash).
   * The file is gone afterwards either way.
   */
  adoptFile(path: string, blob: { sha256: string; sizeBytes: number }): Promise<StoredBlob>;
  /** A folder for files meant for `adoptFile` (on the store's filesystem where that matters). */
  readonly scratchDir: string;
  stat(sha256: string): Promise<BlobInfo | null>;
  /** Bytes [start, end] inclusive, or the whole blob. */
  read(sha256: string, range?: { start: number; end: number }): Promise<Readable>;
  /**
   * A local file path holding the blob, for parsers and merges that read by offset. For remote
   * stores this downloads to a cache; `release` removes what was fetched.
   */
  localPath(sha256: string): Promise<{ path: string; release(): Promise<void> }>;
  delete(sha256: string): Promise<void>;
  /** Stored blobs in sha256 order, from just after `after`, at most `limit` of them. */
  list(options: { after?: string | null; limit: number }): Promise<ListedBlob[]>;
  /**
   * Removes what interrupted writes left behind (temporary files or objects, incomplete multipart
   * uploads) older than `olderThanMs`; writes in progress in this process are never touched.
   * `uploads` is null where the store has no such thing or the server cannot list them.
   */
  sweepTemporary(olderThanMs: number): Promise<{ objects: number; uploads: number | null }>;
  /** Reachability check for /healthz. */
  check(): Promise<void>;
  readonly description: string;
  /** True when reads go over the network (merges then read tensors by byte range). */
  readonly remote?: boolean;
}

export const SHA256_PATTERN = /^[0-9a-f]{64}$/;
