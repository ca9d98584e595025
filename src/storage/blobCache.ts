import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { SHA256_PATTERN } from "./artifactStore";

/**
 * Downloaded blobs under `dir/<sha256>`, bounded by total size with least-recently-used
 * eviction: each use touches the file's mtime, and after every download and release the oldest
 * files not in use by this process are removed until the total fits `maxBytes`. A blob larger than
 * the bound is still downloaded while in use and evicted after. Processes sharing one cache
 * folder do not see each other's pins; on Linux a file already opened survives its eviction, so
 * the risk is a path handed out and evicted before it is opened — give each machine's processes a
 * bound well above their working set, or separate LAYERMERGE_DATA_DIRs.
 */
export class BlobCache {
  private readonly tmpDir: string;
  private readonly pins = new Map<string, number>();
  private readonly downloads = new Map<string, Promise<void>>();
  private swept = false;

  constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
  ) {
    this.tmpDir = path.join(dir, "tmp");
  }

  async acquire(sha256: string, fetch: (tmpFile: string) => Promise<void>): Promise<{ path: string; release(): Promise<void> }> {
    const file = path.join(this.dir, sha256);
    this.pin(sha256);
    try {
      if (!(await touch(file))) {
        let pending = this.downloads.get(sha256);
        if (!pending) {
          pending = this.fill(file, fetch).finally(() => this.downloads.delete(sha256));
          this.downloads.set(sha256, pending);
        }
        await pending;
        await this.evict();
      }
    } catch (error) {
      this.unpin(sha256);
      throw error;
    }
    let released = false;
    return {
      path: file,
      release: async () => {
        if (released) return;
        released = true;
        this.unpin(sha256);
        await this.evict();
      },
    };
  }

  private async fill(file: string, fetch: (tmpFile: string) => Promise<void>): Promise<void> {
    await fsp.mkdir(this.tmpDir, { recursive: true });
    if (!this.swept) {
      this.swept = true;
      await this.sweepStaleDownloads();
    }
    const tmp = path.join(this.tmpDir, `${path.basename(file)}.${randomBytes(6).toString("hex")}`);
    try {
      await fetch(tmp);
      await fsp.rename(tmp, file);
    } catch (error) {
      await fsp.rm(tmp, { force: true });
      throw error;
    }
  }

  /**
   * Partial downloads of a process that died. An hour without a write is the test: a live
   * download (possibly another process's, sharing the folder) writes every few milliseconds.
   */
  private async sweepStaleDownloads(): Promise<void> {
    const cutoff = Date.now() - 60 * 60 * 1000;
    for (const name of await fsp.readdir(this.tmpDir)) {
      const file = path.join(this.tmpDir, name);
      const s = await fsp.stat(file).catch(() => null);
      if (s && s.mtimeMs < cutoff) await fsp.rm(file, { force: true });
    }
  }

  async remove(sha256: string): Promise<void> {
    await fsp.rm(path.join(this.dir, sha256), { force: true });
  }

  private async evict(): Promise<void> {
    let names: string[];
    try {
      names = (await fsp.readdir(this.dir)).filter((name) => SHA256_PATTERN.test(name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    const entries: Array<{ name: string; size: number; used: number }> = [];
    for (const name of names) {
      const s = await fsp.stat(path.join(this.dir, name)).catch(() => null);
      if (s) entries.push({ name, size: s.size, used: s.mtimeMs });
    }
    let total = entries.reduce((sum, e) => sum + e.size, 0);
    entries.sort((a, b) => a.used - b.used);
    for (const entry of entries) {
      if (total <= this.maxBytes) break;
      if (this.pins.has(entry.name)) continue;
      await fsp.rm(path.join(this.dir, entry.name), { force: true });
      total -= entry.size;
    }
  }

  private pin(sha256: string): void {
    this.pins.set(sha256, (this.pins.get(sha256) ?? 0) + 1);
  }

  private unpin(sha256: string): void {
    const n = (this.pins.get(sha256) ?? 0) - 1;
    if (n > 0) this.pins.set(sha256, n);
    else this.pins.delete(sha256);
  }
}

/** Marks a cached file as just used (LRU order); false when it is not cached. */
async function touch(file: string): Promise<boolean> {
  const now = new Date();
  try {
    await fsp.utimes(file, now, now);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}
