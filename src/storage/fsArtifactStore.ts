import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { createHash, randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import { DomainError, badInput, invariant } from "../core/errors";
import { ArtifactStore, BlobInfo, SHA256_PATTERN, StoredBlob } from "./artifactStore";

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
      await fsp.rm(tmp, { force: true });
      invariant(existing.sizeBytes === size, `blob ${sha256} on disk has ${existing.sizeBytes} bytes, the new copy ${size}`);
      return { sha256, sizeBytes: size, created: false };
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

  async check(): Promise<void> {
    await fsp.access(this.root, fs.constants.W_OK);
  }
}
