import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { createHash, randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import { DomainError, badInput, invariant } from "../core/errors";
import { ArtifactStore, BlobInfo, ListedBlob, SHA256_PATTERN, StoredBlob } from "./artifactStore";

/** Names `put` gives its temporary files: `<ms since epoch>-<16 hex digits>`. */
const TEMPORARY_NAME = /^\d+-[0-9a-f]{16}$/;
const HEX2 = /^[0-9a-f]{2}$/;

/**
 * Blobs under `root/ab/cd/<sha256>`. A write goes to `root/tmp/<random>`, is hashed while it
 * streams, fsync'd, then renamed into place (rename is atomic within a filesystem), so a crash
 * leaves at most a temporary file, never a half blob under a real hash. The same bytes stored
 * twice are stored once.
 */
export class FsArtifactStore implements ArtifactStore {
  readonly description: string;
  readonly scratchDir: string;
  private readonly tmpDir: string;
  /** Temporary files of puts under way in this process (the sweep leaves them alone). */
  private readonly writing = new Set<string>();

  constructor(private readonly root: string) {
    this.description = `file:${root}`;
    this.tmpDir = path.join(root, "tmp");
    this.scratchDir = this.tmpDir;
    fs.mkdirSync(this.tmpDir, { recursive: true });
  }

  pathOf(sha256: string): string {
    if (!SHA256_PATTERN.test(sha256)) throw badInput(`${JSON.stringify(sha256)} is not a sha256 (64 lowercase hex digits)`, "sha256");
    return path.join(this.root, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  async put(body: AsyncIterable<Uint8Array> | Readable, options: { maxBytes?: number; expectedSha256?: string } = {}): Promise<StoredBlob> {
    const tmp = path.join(this.tmpDir, `${Date.now()}-${randomBytes(8).toString("hex")}`);
    this.writing.add(tmp);
    try {
      return await this.putVia(tmp, body, options);
    } finally {
      this.writing.delete(tmp);
    }
  }

  private async putVia(tmp: string, body: AsyncIterable<Uint8Array> | Readable, options: { maxBytes?: number; expectedSha256?: string }): Promise<StoredBlob> {
    const handle = await fsp.open(tmp, "wx");
    const hash = createHash("sha256");
    let size = 0;
    try {
      for await (const chunk of body as AsyncIterable<Uint8Array>) {
        size += chunk.byteLength;
        if (options.maxBytes !== undefined && size > options.maxBytes) {
          throw new DomainError("PAYLOAD_TOO_LARGE", `the upload exceeds the limit of ${options.maxBytes} bytes (LAYERMERGE_MAX_UPLOAD_BYTES)`);
        }
        hash.update(chunk);
        let written = 0;
        while (written < chunk.byteLength) {
          const { bytesWritten } = await handle.write(chunk, written, chunk.byteLength - written);
          written += bytesWritten;
        }
      }
      await handle.sync();
    } catch (error) {
      await handle.close().catch(() => undefined);
      await fsp.rm(tmp, { force: true });
      throw error;
    }
    await handle.close();
    const sha256 = hash.digest("hex");
    if (options.expectedSha256 && options.expectedSha256 !== sha256) {
      await fsp.rm(tmp, { force: true });
      throw badInput(`the uploaded bytes hash to ${sha256}, not the expected ${options.expectedSha256}`, "sha256");
    }
    return this.publish(tmp, sha256, size);
  }

  async putFile(file: string, options: { maxBytes?: number } = {}): Promise<StoredBlob> {
    return this.put(fs.createReadStream(file, { highWaterMark: 4 << 20 }), options);
  }

  async adoptFile(file: string, blob: { sha256: string; sizeBytes: number }): Promise<StoredBlob> {
    const { size } = await fsp.stat(file);
    invariant(size === blob.sizeBytes, `${file} has ${size} bytes, not the ${blob.sizeBytes} it was hashed with`);
    this.pathOf(blob.sha256); // refuses anything but a sha256
    try {
      return await this.publish(file, blob.sha256, size);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EXDEV") throw error;
      // Another filesystem: copy it in (hashing again), then drop the original.
      const stored = await this.put(fs.createReadStream(file, { highWaterMark: 4 << 20 }), { expectedSha256: blob.sha256 });
      await fsp.rm(file, { force: true });
      return stored;
    }
  }

  private async publish(tmp: string, sha256: string, size: number): Promise<StoredBlob> {
    const target = this.pathOf(sha256);
    const existing = await this.stat(sha256);
    if (existing) {
      // Stored again: its age for the upload sweep starts over, as if it had just been written
      // (someone is about to register it). Swept meanwhile: this copy takes its place.
      const now = new Date();
      const touched = await fsp.utimes(target, now, now).then(
        () => true,
        (error: NodeJS.ErrnoException) => {
          if (error.code === "ENOENT") return false;
          throw error;
        },
      );
      if (touched) {
        await fsp.rm(tmp, { force: true });
        invariant(existing.sizeBytes === size, `blob ${sha256} on disk has ${existing.sizeBytes} bytes, the new copy ${size}`);
        return { sha256, sizeBytes: size, created: false };
      }
    }
    await fsp.mkdir(path.dirname(target), { recursive: true });
    await fsp.rename(tmp, target);
    // The rename is durable only once the directory entry is.
    const dir = await fsp.open(path.dirname(target), "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    return { sha256, sizeBytes: size, created: true };
  }

  async stat(sha256: string): Promise<BlobInfo | null> {
    try {
      const s = await fsp.stat(this.pathOf(sha256));
      return { sha256, sizeBytes: s.size };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
  }

  async read(sha256: string, range?: { start: number; end: number }): Promise<Readable> {
    const file = this.pathOf(sha256);
    return fs.createReadStream(file, { start: range?.start, end: range?.end, highWaterMark: 1 << 20 });
  }

  async localPath(sha256: string) {
    const file = this.pathOf(sha256);
    await fsp.access(file);
    return { path: file, release: async () => undefined };
  }

  async delete(sha256: string): Promise<void> {
    await fsp.rm(this.pathOf(sha256), { force: true });
  }

  async list(options: { after?: string | null; limit: number }): Promise<ListedBlob[]> {
    const after = options.after ?? "";
    const out: ListedBlob[] = [];
    if (options.limit <= 0) return out;
    for (const a of await sortedEntries(this.root, HEX2)) {
      if (a < after.slice(0, 2)) continue;
      for (const b of await sortedEntries(path.join(this.root, a), HEX2)) {
        if (a + b < after.slice(0, 4)) continue;
        for (const name of await sortedEntries(path.join(this.root, a, b), SHA256_PATTERN)) {
          if (name <= after || !name.startsWith(a + b)) continue;
          try {
            const s = await fsp.stat(path.join(this.root, a, b, name));
            // A Date of this realm (fs.Stats' own may come from node's internals: graphql's
            // date scalar then refuses it under test runners' sandboxes).
            out.push({ sha256: name, sizeBytes: s.size, storedAt: new Date(Math.floor(s.mtimeMs)) });
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error; // deleted meanwhile
            continue;
          }
          if (out.length >= options.limit) return out;
        }
      }
    }
    return out;
  }

  /**
   * Temporary files of puts that died (a crash, a killed process) and have not been written to
   * for `olderThanMs`. A put under way in this process is skipped whatever its age; one in
   * another process sharing the folder keeps a fresh mtime while bytes arrive.
   */
  async sweepTemporary(olderThanMs: number): Promise<{ objects: number; uploads: number | null }> {
    const cutoff = Date.now() - olderThanMs;
    let objects = 0;
    for (const name of await sortedEntries(this.tmpDir, TEMPORARY_NAME)) {
      const file = path.join(this.tmpDir, name);
      if (this.writing.has(file)) continue;
      const s = await fsp.stat(file).catch(() => null);
      if (!s || !s.isFile() || s.mtimeMs >= cutoff) continue;
      await fsp.rm(file, { force: true });
      objects++;
    }
    return { objects, uploads: null };
  }

  async check(): Promise<void> {
    await fsp.access(this.root, fs.constants.W_OK);
  }
}

/** Names in `dir` matching `pattern`, sorted; none when the folder is gone. */
async function sortedEntries(dir: string, pattern: RegExp): Promise<string[]> {
  try {
    return (await fsp.readdir(dir)).filter((name) => pattern.test(name)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}
