import { badInput } from "../../errors";
import { classLookup, ClassLookup } from "./classLookup";
import { DatasetIndex, DatasetSpec } from "./datasetTypes";
import { listCityscapes } from "./listCityscapes";
import { listCocoPanoptic } from "./listCocoPanoptic";
import { listImages } from "./listImages";
import { listSemanticPng } from "./listSemanticPng";

/**
 * The pairs of a dataset (paths only — samples are decoded one at a time by readDataset) and the
 * problems found in its layout and class list.
 */
export async function listDataset(spec: DatasetSpec): Promise<DatasetIndex & { lookup: ClassLookup }> {
  const { lookup, problems } = classLookup(spec);
  let index: DatasetIndex;
  switch (spec.format) {
    case "SEMANTIC_PNG":
      index = await listSemanticPng(spec.location);
      break;
    case "CITYSCAPES":
      index = await listCityscapes(spec.location, spec.split ?? "val");
      break;
    case "COCO_PANOPTIC":
      index = await listCocoPanoptic(spec.location, lookup);
      break;
    case "IMAGES":
      index = await listImages(spec.location);
      break;
    default:
      throw badInput(`unknown dataset format ${String(spec.format)}`, "format");
  }
  return { ...index, problems: [...problems, ...index.problems], lookup };
}
