import { promises as fs } from "fs";
import { isAbsolute, join, normalize } from "path";
import { DatasetIndex, DatasetProblem } from "./datasetTypes";
import { isDirectory, walkFiles } from "./walkFiles";

const IMAGE_EXT = /\.(png|jpe?g)$/i;
const LABEL_EXT = /\.png$/i;

/**
 * SEMANTIC_PNG: `images/` and `labels/` paired by relative path without
 * extension (PNG/JPEG images, PNG labels), or the folders named by an optional top-level
 * `dataset.json` `{ "images": "…", "labels": "…" }` (relative to the dataset folder).
 */
export async function listSemanticPng(location: string): Promise<DatasetIndex> {
  const problems: DatasetProblem[] = [];
  const files: string[] = [];
  let imagesDir = "images";
  let labelsDir = "labels";
  const manifest = join(location, "dataset.json");
  let text: string | undefined;
  try {
    text = await fs.readFile(manifest, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") problems.push({ file: "dataset.json", message: `cannot read: ${(e as Error).message}` });
  }
  if (text !== undefined) {
    files.push("dataset.json");
    try {
      const json = JSON.parse(text) as Record<string, unknown>;
      for (const key of ["images", "labels"] as const) {
        const v = json[key];
        if (v === undefined) continue;
        if (typeof v !== "string" || v === "" || isAbsolute(v) || normalize(v).split(/[\\/]/).includes("..")) {
          problems.push({ file: "dataset.json", message: `"${key}" must be a folder inside the dataset, got ${JSON.stringify(v)}` });
          continue;
        }
        if (key === "images") imagesDir = normalize(v).replace(/\\/g, "/").replace(/\/$/, "");
        else labelsDir = normalize(v).replace(/\\/g, "/").replace(/\/$/, "");
      }
    } catch (e) {
      problems.push({ file: "dataset.json", message: `is not valid JSON: ${(e as Error).message}` });
    }
  }

  for (const dir of [imagesDir, labelsDir]) {
    if (!(await isDirectory(join(location, dir)))) problems.push({ file: dir, message: `folder ${dir}/ does not exist in ${location}` });
  }
  const images = await byStem(location, imagesDir, IMAGE_EXT, problems);
  const labels = await byStem(location, labelsDir, LABEL_EXT, problems);

  const entries: DatasetIndex["entries"] = [];
  for (const [stem, image] of images) {
    const label = labels.get(stem);
    if (!label) {
      problems.push({ file: image, message: `has no label ${labelsDir}/${stem}.png` });
      continue;
    }
    entries.push({ name: stem, image, label });
    files.push(image, label);
  }
  for (const [stem, label] of labels) {
    if (!images.has(stem)) problems.push({ file: label, message: `has no image ${imagesDir}/${stem}.png or .jpg` });
  }
  if (entries.length === 0 && problems.length === 0) problems.push({ file: ".", message: `no image/label pairs in ${imagesDir}/ and ${labelsDir}/` });
  return { entries, files: files.sort(), problems };
}

async function byStem(location: string, dir: string, ext: RegExp, problems: DatasetProblem[]): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  for (const rel of await walkFiles(join(location, dir))) {
    if (!ext.test(rel)) continue;
    const stem = rel.replace(/\.[^./]+$/, "");
    const path = `${dir}/${rel}`;
    const previous = map.get(stem);
    if (previous) {
      problems.push({ file: path, message: `has the same name as ${previous}; pairs are matched by name without extension` });
      continue;
    }
    map.set(stem, path);
  }
  return map;
}
