import * as fs from "node:fs";
import type { FileByteSource } from "../core/formats/byteSource";
import type { OnnxModelRecord } from "../core/formats/onnx/onnxModelRecord";
import { readOnnxModel } from "../core/formats/onnx/readOnnxModel";

/**
 * Anchor files' ONNX records (readOnnxModel) on this thread, by file identity: a merge search
 * merges onto the same few anchors hundreds of times, and reading a small model's headers again
 * was a tenth of its merge. A file is known by path, inode, size and modification time (artifact
 * files are written once; a file replaced or rewritten in place is read again). The eight used
 * most recently are kept.
 */
const cache = new Map<string, OnnxModelRecord>();
const KEPT = 8;

/** readOnnxModel(source) for the file open as `fd`, from this thread's cache when it is the same file. */
export function cachedOnnxRecords(source: FileByteSource, fd: number): OnnxModelRecord {
  const st = fs.fstatSync(fd);
  const key = `${source.path}\0${st.ino}\0${st.size}\0${st.mtimeMs}`;
  let records = cache.get(key);
  if (records) {
    cache.delete(key);
  } else {
    records = readOnnxModel(source);
    if (cache.size >= KEPT) cache.delete(cache.keys().next().value!);
  }
  cache.set(key, records);
  return records;
}
