import * as fs from "node:fs";
import * as path from "node:path";
import { badInput } from "../../errors";
import { FileByteSource, type ByteSource } from "../byteSource";

/**
 * Checks an external_data `location` (onnx/onnx.proto3: a path relative to the model's folder)
 * without touching the disk: no absolute paths, no `..` leaving the folder, no NUL bytes.
 * Backslashes are separators (Windows exporters write them). Returns the normalized POSIX path.
 */
export function checkExternalLocation(location: string, tensorTitle: string): string {
  const posix = location.replace(/\\/g, "/");
  if (location.includes("\0")) throw badInput(`${tensorTitle} has an external data location containing a NUL byte`);
  if (posix.startsWith("/") || /^[A-Za-z]:/.test(posix)) {
    throw badInput(`${tensorTitle} has an absolute external data location "${location}"; ONNX external data must be relative to the model's folder`);
  }
  const normalized = path.posix.normalize(posix);
  if (normalized === ".." || normalized.startsWith("../") || normalized === "." || normalized === "") {
    throw badInput(`${tensorTitle} has external data location "${location}", which leaves the model's folder`);
  }
  return normalized;
}

/**
 * Opens external data files under `modelFolder`, resolving symlinks and refusing any file that
 * resolves outside the folder, so a model cannot read files beside it through `..` or a
 * symlink. Sources are cached per file; `close()` releases them.
 */
export function openExternalData(modelFolder: string): ((relativePath: string) => ByteSource) & { close(): void } {
  let root: string;
  try {
    root = fs.realpathSync(modelFolder);
  } catch {
    throw badInput(`the model's folder "${modelFolder}" does not exist`);
  }
  const open = new Map<string, FileByteSource>();
  const opener = (relativePath: string): ByteSource => {
    const cached = open.get(relativePath);
    if (cached) return cached;
    const normalized = checkExternalLocation(relativePath, `external data file "${relativePath}"`);
    let real: string;
    try {
      real = fs.realpathSync(path.join(root, normalized));
    } catch {
      throw badInput(`external data file "${relativePath}" does not exist next to the model`);
    }
    if (!real.startsWith(root + path.sep)) throw badInput(`external data file "${relativePath}" resolves outside the model's folder`);
    if (!fs.statSync(real).isFile()) throw badInput(`external data location "${relativePath}" is not a file`);
    const source = new FileByteSource(real);
    open.set(relativePath, source);
    return source;
  };
  return Object.assign(opener, {
    close() {
      for (const s of open.values()) s.close();
      open.clear();
    },
  });
}
