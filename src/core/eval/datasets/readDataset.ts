import { badInput } from "../../errors";
import { DatasetSample, DatasetSpec } from "./datasetTypes";
import { ImageDecoder } from "./ImageDecoder";
import { listDataset } from "./listDataset";
import { loadSample } from "./loadSample";

export interface ReadDatasetOptions {
  /** Read at most this many samples (in the index's order). */
  limit?: number;
}

/**
 * Samples one at a time (images are decoded on demand, so memory holds one sample per consumer
 * step, never the split). A dataset with layout problems is refused up front; a bad file met while
 * reading throws a DomainError naming it.
 */
export async function* readDataset(spec: DatasetSpec, decoder: ImageDecoder, options: ReadDatasetOptions = {}): AsyncGenerator<DatasetSample> {
  if (spec.format === "IMAGES") throw badInput(`the IMAGES dataset at ${spec.location} has no labels; scoring needs a labelled dataset (SEMANTIC_PNG, CITYSCAPES or COCO_PANOPTIC)`, "dataset.format");
  const index = await listDataset(spec);
  if (index.problems.length > 0) {
    const shown = index.problems.slice(0, 5).map((p) => `${p.file}: ${p.message}`).join("; ");
    throw badInput(`dataset at ${spec.location} has ${index.problems.length} problem(s): ${shown}${index.problems.length > 5 ? "; …" : ""}`, undefined, { problems: index.problems.slice(0, 100) });
  }
  const n = Math.min(index.entries.length, options.limit ?? Infinity);
  for (let i = 0; i < n; i++) {
    yield await loadSample(spec.location, spec.format, index.entries[i], index.lookup, decoder);
  }
}
