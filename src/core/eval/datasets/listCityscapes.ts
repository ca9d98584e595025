import { join } from "path";
import { DatasetIndex, DatasetProblem } from "./datasetTypes";
import { isDirectory, walkFiles } from "./walkFiles";

const IMAGE_SUFFIX = "_leftImg8bit.png";
const LABEL_SUFFIX = "_gtFine_labelTrainIds.png";

/**
 * CITYSCAPES: `leftImg8bit/<split>/<city>/X_leftImg8bit.png` paired with
 * `gtFine/<split>/<city>/X_gtFine_labelTrainIds.png` (train ids, 255 = ignore, as written by
 * cityscapesscripts' createTrainIdLabelImgs). The other gtFine files are not part of the dataset.
 */
export async function listCityscapes(location: string, split = "val"): Promise<DatasetIndex> {
  const problems: DatasetProblem[] = [];
  const imageRoot = `leftImg8bit/${split}`;
  const labelRoot = `gtFine/${split}`;
  for (const dir of [imageRoot, labelRoot]) {
    if (!(await isDirectory(join(location, dir)))) problems.push({ file: dir, message: `folder ${dir}/ does not exist in ${location}` });
  }
  const images = new Map<string, string>();
  for (const rel of await walkFiles(join(location, imageRoot))) {
    if (rel.endsWith(IMAGE_SUFFIX)) images.set(rel.slice(0, -IMAGE_SUFFIX.length), `${imageRoot}/${rel}`);
  }
  const labels = new Map<string, string>();
  for (const rel of await walkFiles(join(location, labelRoot))) {
    if (rel.endsWith(LABEL_SUFFIX)) labels.set(rel.slice(0, -LABEL_SUFFIX.length), `${labelRoot}/${rel}`);
  }
  const entries: DatasetIndex["entries"] = [];
  const files: string[] = [];
  for (const [key, image] of images) {
    const label = labels.get(key);
    if (!label) {
      problems.push({ file: image, message: `has no label ${labelRoot}/${key}${LABEL_SUFFIX}` });
      continue;
    }
    entries.push({ name: key, image, label });
    files.push(image, label);
  }
  for (const [key, label] of labels) {
    if (!images.has(key)) problems.push({ file: label, message: `has no image ${imageRoot}/${key}${IMAGE_SUFFIX}` });
  }
  if (entries.length === 0 && problems.length === 0) problems.push({ file: ".", message: `no *${IMAGE_SUFFIX} / *${LABEL_SUFFIX} pairs under ${imageRoot}/ and ${labelRoot}/` });
  return { entries, files: files.sort(), problems };
}
