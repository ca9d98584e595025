import { promises as fs } from "fs";
import { join } from "path";
import { PanopticSegment } from "../metrics/panopticTypes";
import { ClassLookup } from "./classLookup";
import { DatasetIndex, DatasetProblem } from "./datasetTypes";
import { isDirectory, walkFiles } from "./walkFiles";

interface CocoJson {
  images?: Array<{ id: number | string; file_name: string }>;
  annotations?: Array<{ image_id: number | string; file_name: string; segments_info?: Array<{ id: number; category_id: number; iscrowd?: number }> }>;
  categories?: Array<{ id: number; name?: string; isthing?: number }>;
}

/**
 * COCO_PANOPTIC (format of cocodataset/panopticapi): one panoptic JSON at the top
 * (`images`, `annotations` with `segments_info`, `categories` with `isthing`), the PNGs in the
 * folder named by the JSON's stem or `panoptic/`, the images in `images/`. Categories map to
 * classes through classes[].datasetId; a category whose `isthing` disagrees with its class is a
 * problem, as is a segment whose category maps to no class.
 */
export async function listCocoPanoptic(location: string, lookup: ClassLookup): Promise<DatasetIndex> {
  const problems: DatasetProblem[] = [];
  const top = await fs.readdir(location, { withFileTypes: true }).catch(() => []);
  const jsons = top.filter((d) => d.isFile() && d.name.toLowerCase().endsWith(".json")).map((d) => d.name).sort();
  if (jsons.length !== 1) {
    const message = jsons.length === 0 ? `no panoptic JSON file at the top of ${location}` : `found ${jsons.length} JSON files at the top (${jsons.join(", ")}); keep exactly one panoptic JSON there`;
    return { entries: [], files: [], problems: [{ file: ".", message }] };
  }
  const jsonFile = jsons[0];
  let json: CocoJson;
  try {
    json = JSON.parse(await fs.readFile(join(location, jsonFile), "utf8")) as CocoJson;
  } catch (e) {
    return { entries: [], files: [jsonFile], problems: [{ file: jsonFile, message: `cannot be read as JSON: ${(e as Error).message}` }] };
  }
  if (!Array.isArray(json.images) || !Array.isArray(json.annotations) || !Array.isArray(json.categories)) {
    return { entries: [], files: [jsonFile], problems: [{ file: jsonFile, message: `must have "images", "annotations" and "categories" arrays` }] };
  }

  const stem = jsonFile.replace(/\.json$/i, "");
  const pngDir = (await isDirectory(join(location, stem))) ? stem : "panoptic";
  if (!(await isDirectory(join(location, pngDir)))) problems.push({ file: pngDir, message: `no PNG folder: expected ${stem}/ or panoptic/ in ${location}` });
  if (!(await isDirectory(join(location, "images")))) problems.push({ file: "images", message: `folder images/ does not exist in ${location}` });
  const pngs = new Set(await walkFiles(join(location, pngDir)));
  const imageFiles = new Set(await walkFiles(join(location, "images")));

  const categoryClass = new Map<number, number>();
  for (const cat of json.categories) {
    const cls = lookup.classOf(cat.id);
    if (cls === undefined) continue;
    categoryClass.set(cat.id, cls);
    const isThing = cat.isthing === 1;
    const c = lookup.byId.get(cls)!;
    if (isThing !== c.isThing) {
      problems.push({ file: jsonFile, message: `category ${cat.id} (${cat.name ?? "?"}) has isthing ${cat.isthing ?? 0} but class ${c.id} (${c.name}) has isThing ${c.isThing}` });
    }
  }
  const categoryName = new Map(json.categories.map((c) => [c.id, c.name ?? "?"]));

  const imageById = new Map(json.images.map((im) => [String(im.id), im.file_name]));
  const entries: DatasetIndex["entries"] = [];
  const files = [jsonFile];
  for (const ann of json.annotations) {
    const png = `${pngDir}/${ann.file_name}`;
    const imageName = imageById.get(String(ann.image_id));
    if (imageName === undefined) {
      problems.push({ file: png, message: `annotation for image_id ${ann.image_id}, which is not in ${jsonFile} "images"` });
      continue;
    }
    const image = `images/${imageName}`;
    let ok = true;
    if (!pngs.has(ann.file_name)) {
      problems.push({ file: png, message: `is listed in ${jsonFile} but does not exist` });
      ok = false;
    }
    if (!imageFiles.has(imageName)) {
      problems.push({ file: image, message: `is listed in ${jsonFile} but does not exist` });
      ok = false;
    }
    const segments: PanopticSegment[] = [];
    for (const s of ann.segments_info ?? []) {
      const cls = categoryClass.get(s.category_id);
      if (cls === undefined) {
        problems.push({ file: png, message: `segment ${s.id} has category ${s.category_id} (${categoryName.get(s.category_id) ?? "not in categories"}), which no class maps to` });
        ok = false;
        continue;
      }
      segments.push({ id: s.id, categoryId: cls, iscrowd: s.iscrowd === 1 });
    }
    if (!ok) continue;
    entries.push({ name: ann.file_name.replace(/\.png$/i, ""), image, label: png, segments });
    files.push(image, png);
  }
  if (entries.length === 0 && problems.length === 0) problems.push({ file: jsonFile, message: `has no annotations` });
  return { entries, files: files.sort(), problems };
}
