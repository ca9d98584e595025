import { DomainError } from "../../errors";
import { datasetChecksum } from "./datasetChecksum";
import { DatasetFormat, DatasetProblem, DatasetSpec } from "./datasetTypes";
import { ImageDecoder } from "./ImageDecoder";
import { listDataset } from "./listDataset";
import { loadImage, loadSample } from "./loadSample";

export interface DatasetReport {
  ok: boolean;
  format: DatasetFormat;
  /** Image/label pairs found. */
  images: number;
  /** Bytes of all dataset files (pairs and metadata). */
  totalBytes: number;
  /** datasetChecksum of those files (hex sha256). */
  checksum: string;
  /** Per-file problems (at most `maxProblems`; `truncated` says when more were found). */
  problems: DatasetProblem[];
  truncated: boolean;
  /** Labelled pixels per class id over the split (ignore excluded). */
  classPixels: Record<number, number>;
}

export interface ValidateDatasetOptions {
  maxProblems?: number;
  onProgress?: (done: number, total: number) => void;
  /** Checked before each pair: an aborted check ends with a CANCELLED DomainError. */
  signal?: AbortSignal;
}

/**
 * What `createDataset` checks: the class list, the layout and pairing, that
 * every file decodes, image and label sizes, label values against classes[].datasetId and the
 * ignore index, COCO `isthing` against the classes and PNG ids against `segments_info`; and the
 * size and checksum of the files. IMAGES splits have only their images checked. Decodes every label (images are only measured when the decoder
 * can probe), one pair at a time.
 */
export async function validateDataset(spec: DatasetSpec, decoder: ImageDecoder, options: ValidateDatasetOptions = {}): Promise<DatasetReport> {
  const maxProblems = options.maxProblems ?? 1000;
  const index = await listDataset(spec);
  const problems: DatasetProblem[] = [...index.problems];
  const classPixels: Record<number, number> = {};
  for (const c of spec.classes) classPixels[c.id] = 0;
  let done = 0;
  for (const entry of index.entries) {
    if (options.signal?.aborted) throw new DomainError("CANCELLED", "dataset check cancelled");
    try {
      if (entry.label === null) {
        await loadImage(spec.location, entry.image, decoder, true);
        options.onProgress?.(++done, index.entries.length);
        continue;
      }
      const s = await loadSample(spec.location, spec.format, entry, index.lookup, decoder, true);
      const ignore = index.lookup.ignoreIndex;
      for (let i = 0; i < s.label.length; i++) {
        const v = s.label[i];
        if (v !== ignore) classPixels[v]++;
      }
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      problems.push({ file: typeof e.details?.file === "string" ? e.details.file : entry.label ?? entry.image, message: e.message });
    }
    options.onProgress?.(++done, index.entries.length);
  }
  const { checksum, totalBytes } = await datasetChecksum(spec.location, index.files);
  return {
    ok: problems.length === 0,
    format: spec.format,
    images: index.entries.length,
    totalBytes,
    checksum,
    problems: problems.slice(0, maxProblems),
    truncated: problems.length > maxProblems,
    classPixels,
  };
}
