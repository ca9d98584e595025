import { createHash } from "crypto";
import { createReadStream, promises as fs } from "fs";
import { join } from "path";

/**
 * Content checksum of a dataset: sha256 over its files in sorted relative-path order (JS string
 * order of POSIX paths), each contributing `path ‖ 0x00 ‖ byte length in decimal ‖ 0x00 ‖ bytes`.
 * The length framing makes the byte stream unambiguous; paths make renames visible. Files are
 * streamed, so memory stays constant.
 */
export async function datasetChecksum(location: string, files: readonly string[]): Promise<{ checksum: string; totalBytes: number }> {
  const hash = createHash("sha256");
  let totalBytes = 0;
  for (const rel of [...files].sort()) {
    const path = join(location, rel);
    const { size } = await fs.stat(path);
    hash.update(rel, "utf8");
    hash.update(`\0${size}\0`, "utf8");
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
    totalBytes += size;
  }
  return { checksum: hash.digest("hex"), totalBytes };
}
