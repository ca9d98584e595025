import { promises as fs } from "fs";
import { join } from "path";
import { DatasetIndex, DatasetProblem } from "./datasetTypes";
import { isDirectory } from "./walkFiles";

/** The image extensions the labelled layouts accept for their images. */
export const IMAGE_EXTENSIONS = /\.(png|jpe?g)$/i;

/**
 * IMAGES (unlabelled): the images directly in `images/`, or in the dataset folder itself when it
 * has no `images/`; not recursive, so a folder of images next to their labels is not mistaken for
 * a larger split. Listed in name order, which is the order `limit` takes the first N from.
 */
export async function listImages(location: string): Promise<DatasetIndex> {
  const problems: DatasetProblem[] = [];
  const dir = (await isDirectory(join(location, "images"))) ? "images" : "";
  let dirents;
  try {
    dirents = await fs.readdir(join(location, dir), { withFileTypes: true });
  } catch (e) {
    return { entries: [], files: [], problems: [{ file: ".", message: `cannot list ${location}: ${(e as Error).message}` }] };
  }
  const names = dirents.filter((d) => d.isFile() && IMAGE_EXTENSIONS.test(d.name)).map((d) => d.name).sort();
  const entries: DatasetIndex["entries"] = [];
  const byStem = new Map<string, string>();
  for (const name of names) {
    const image = dir ? `${dir}/${name}` : name;
    const stem = name.replace(/\.[^.]+$/, "");
    const previous = byStem.get(stem);
    if (previous) {
      problems.push({ file: image, message: `has the same name as ${previous}; samples are named without extension` });
      continue;
    }
    byStem.set(stem, image);
    entries.push({ name: stem, image, label: null });
  }
  if (entries.length === 0 && problems.length === 0) problems.push({ file: ".", message: `no images (.png, .jpg, .jpeg) in ${dir ? `${dir}/` : "the folder"}` });
  return { entries, files: entries.map((e) => e.image).sort(), problems };
}
