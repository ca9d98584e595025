import { badInput } from "../../errors";
import { DatasetSpec } from "./datasetTypes";
import { DecodedImage, ImageDecoder } from "./ImageDecoder";
import { listDataset } from "./listDataset";
import { loadImage } from "./loadSample";

/** One decoded image of a split, without its label (if it has one). */
export interface ImageSample {
  name: string;
  imagePath: string;
  image: DecodedImage;
  width: number;
  height: number;
}

/**
 * The images of any dataset format, one at a time in listing order (the first `limit`): what
 * label-free criteria read. Labels are neither read nor checked; a dataset with layout problems
 * is refused up front as readDataset does.
 */
export async function* readImages(spec: DatasetSpec, decoder: ImageDecoder, options: { limit?: number } = {}): AsyncGenerator<ImageSample> {
  const index = await listDataset(spec);
  if (index.problems.length > 0) {
    const shown = index.problems.slice(0, 5).map((p) => `${p.file}: ${p.message}`).join("; ");
    throw badInput(`dataset at ${spec.location} has ${index.problems.length} problem(s): ${shown}${index.problems.length > 5 ? "; …" : ""}`, undefined, { problems: index.problems.slice(0, 100) });
  }
  const n = Math.min(index.entries.length, options.limit ?? Infinity);
  for (let i = 0; i < n; i++) {
    const entry = index.entries[i];
    const loaded = await loadImage(spec.location, entry.image, decoder);
    yield { name: entry.name, imagePath: loaded.path, image: loaded.image, width: loaded.image.width, height: loaded.image.height };
  }
}
