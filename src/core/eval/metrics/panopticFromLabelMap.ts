import { badInput } from "../../errors";
import { PanopticImage, PanopticSegment } from "./panopticTypes";

export interface PanopticFromLabelMapOptions {
  /** panoptic value = class · labelDivisor + instance (Panoptic-DeepLab, Cityscapes `*_panoptic`). */
  labelDivisor: number;
  /** Values below 0 are always void; this adds one more void value (e.g. 255·divisor). */
  voidValue?: number;
  /** Marks segments as crowd, e.g. Cityscapes thing pixels without an instance (instance 0). */
  isCrowd?: (classId: number, instance: number) => boolean;
}

/**
 * Converts a "class · labelDivisor + instance" map (negative = void, as the post-processing emits)
 * into a panopticapi-style image: dense segment ids 1..K in order of first appearance, 0 = void.
 */
export function panopticFromLabelMap(map: Int32Array, options: PanopticFromLabelMapOptions): PanopticImage {
  const { labelDivisor, voidValue, isCrowd } = options;
  if (!Number.isInteger(labelDivisor) || labelDivisor < 1) throw badInput(`labelDivisor must be a positive integer, got ${labelDivisor}`, "labelDivisor");
  const ids = new Int32Array(map.length);
  const idOf = new Map<number, number>();
  const segments: PanopticSegment[] = [];
  let last = NaN;
  let lastId = 0;
  for (let i = 0; i < map.length; i++) {
    const v = map[i];
    if (v === last) {
      ids[i] = lastId;
      continue;
    }
    let id = 0;
    if (v >= 0 && v !== voidValue) {
      const known = idOf.get(v);
      if (known !== undefined) {
        id = known;
      } else {
        id = segments.length + 1;
        idOf.set(v, id);
        const classId = Math.floor(v / labelDivisor);
        const instance = v - classId * labelDivisor;
        segments.push({ id, categoryId: classId, iscrowd: isCrowd ? isCrowd(classId, instance) : false });
      }
    }
    ids[i] = id;
    last = v;
    lastId = id;
  }
  return { ids, segments };
}
