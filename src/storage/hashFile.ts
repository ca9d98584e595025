import * as fs from "node:fs";
import { createHash } from "node:crypto";

/**
 * sha256 and size of a local file, read in 4 MiB chunks. Synchronous: it runs in a pool thread
 * (the `hashFile` thread job), so hashing a merge's output never occupies the API's event loop.
 */
export function hashFileSync(file: string): { sha256: string; sizeBytes: number } {
  const hash = createHash("sha256");
  const buffer = Buffer.allocUnsafe(4 << 20);
  const fd = fs.openSync(file, "r");
  let sizeBytes = 0;
  try {
    for (;;) {
      const n = fs.readSync(fd, buffer, 0, buffer.byteLength, sizeBytes);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
      sizeBytes += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { sha256: hash.digest("hex"), sizeBytes };
}
