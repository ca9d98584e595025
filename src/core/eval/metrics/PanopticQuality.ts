import { badInput } from "../../errors";
import { PANOPTIC_VOID_ID, PanopticCategory, PanopticImage, PanopticSegment } from "./panopticTypes";

/** Sums of one category over a split; panopticapi's `PQStatCat`. */
export interface PanopticClassStats {
  iou: number;
  tp: number;
  fp: number;
  fn: number;
}

export interface PqAverage {
  pq: number;
  sq: number;
  rq: number;
  /** Categories with TP + FP + FN > 0 that entered the average. */
  n: number;
}

export interface PanopticQualityResult {
  all: PqAverage;
  things: PqAverage;
  stuff: PqAverage;
  /** Every category, in the order given; pq/sq/rq are null when TP + FP + FN = 0. */
  perClass: Array<PanopticClassStats & { categoryId: number; isThing: boolean; pq: number | null; sq: number | null; rq: number | null }>;
}

/** Segment ids are < 2^24 (RGB-encoded); pairs are keyed gt·2^24 + pred, exact in a double. */
const OFFSET = 256 * 256 * 256;

/**
 * Panoptic quality accumulated image by image, following COCO panopticapi `pq_compute`
 * (panopticapi/evaluation.py) rule for rule:
 * - a gt and a predicted segment of the same category match when IoU > 0.5, with the predicted
 *   segment's pixels on void excluded from the union (`union = pred + gt - inter - void∩pred`);
 *   crowd gt segments never match;
 * - unmatched non-crowd gt segments are false negatives;
 * - an unmatched predicted segment is a false positive unless more than half of it lies on void
 *   or on the crowd region of its own category;
 * - PQ_c = ΣIoU / (TP + ½FP + ½FN), SQ_c = ΣIoU / TP (0 when TP = 0), RQ_c = TP / (TP + ½FP + ½FN),
 *   averaged over categories with TP + FP + FN > 0, for all / things / stuff.
 *
 * One deliberate difference: segment areas are counted from the id maps for the ground truth too
 * (panopticapi reads gt areas from the JSON, which for COCO and Cityscapes equal the pixel counts).
 * Averages over zero categories are 0 (panopticapi would divide by zero).
 */
export class PanopticQuality {
  private readonly categories: readonly PanopticCategory[];
  private readonly stats = new Map<number, PanopticClassStats>();
  images = 0;

  constructor(categories: readonly PanopticCategory[]) {
    const seen = new Set<number>();
    for (const [i, c] of categories.entries()) {
      if (seen.has(c.id)) throw badInput(`category ${c.id} is listed twice`, `categories.${i}.id`);
      seen.add(c.id);
      this.stats.set(c.id, { iou: 0, tp: 0, fp: 0, fn: 0 });
    }
    this.categories = categories;
  }

  /** Adds one image. `name` identifies it in error messages. */
  addImage(gt: PanopticImage, pred: PanopticImage, name = `image ${this.images}`): this {
    if (gt.ids.length !== pred.ids.length) {
      throw badInput(`${name}: prediction has ${pred.ids.length} pixels, ground truth ${gt.ids.length}`);
    }
    const gtSegs = this.segmentMap(gt.segments, name, "ground truth");
    const predSegs = this.segmentMap(pred.segments, name, "prediction");

    // Pair counts, with run-length accumulation: neighbouring pixels usually share their pair.
    const pairs = new Map<number, number>();
    const gtArea = new Map<number, number>();
    const predArea = new Map<number, number>();
    const g = gt.ids;
    const p = pred.ids;
    const len = g.length;
    let i = 0;
    while (i < len) {
      const gi = g[i];
      const pi = p[i];
      let j = i + 1;
      while (j < len && g[j] === gi && p[j] === pi) j++;
      const run = j - i;
      if (gi < 0 || gi >= OFFSET || pi < 0 || pi >= OFFSET) {
        throw badInput(`${name}: segment ids must be in [0, 2^24), found ${gi < 0 || gi >= OFFSET ? `ground truth ${gi}` : `prediction ${pi}`} at pixel ${i}`);
      }
      const key = gi * OFFSET + pi;
      pairs.set(key, (pairs.get(key) ?? 0) + run);
      gtArea.set(gi, (gtArea.get(gi) ?? 0) + run);
      predArea.set(pi, (predArea.get(pi) ?? 0) + run);
      i = j;
    }

    // panopticapi's prediction sanity checks: map and segment list must agree.
    for (const id of predArea.keys()) {
      if (id !== PANOPTIC_VOID_ID && !predSegs.has(id)) throw badInput(`${name}: predicted segment id ${id} is in the map but not in the segment list`);
    }
    for (const id of predSegs.keys()) {
      if (!predArea.has(id)) throw badInput(`${name}: predicted segment id ${id} is in the segment list but not in the map`);
    }

    const gtMatched = new Set<number>();
    const predMatched = new Set<number>();
    for (const [key, inter] of pairs) {
      const gi = Math.floor(key / OFFSET);
      const pi = key - gi * OFFSET;
      const gs = gtSegs.get(gi);
      const ps = predSegs.get(pi);
      if (!gs || !ps || gs.iscrowd || gs.categoryId !== ps.categoryId) continue;
      const union = (predArea.get(pi) ?? 0) + (gtArea.get(gi) ?? 0) - inter - (pairs.get(PANOPTIC_VOID_ID * OFFSET + pi) ?? 0);
      const iou = inter / union;
      if (iou > 0.5) {
        const s = this.stats.get(gs.categoryId)!;
        s.tp += 1;
        s.iou += iou;
        gtMatched.add(gi);
        predMatched.add(pi);
      }
    }

    // As panopticapi, one crowd segment per category (the last listed) forgives predictions.
    const crowdByCategory = new Map<number, number>();
    for (const [id, s] of gtSegs) {
      if (gtMatched.has(id)) continue;
      if (s.iscrowd) {
        crowdByCategory.set(s.categoryId, id);
        continue;
      }
      this.stats.get(s.categoryId)!.fn += 1;
    }
    for (const [id, s] of predSegs) {
      if (predMatched.has(id)) continue;
      let ignored = pairs.get(PANOPTIC_VOID_ID * OFFSET + id) ?? 0;
      const crowd = crowdByCategory.get(s.categoryId);
      if (crowd !== undefined) ignored += pairs.get(crowd * OFFSET + id) ?? 0;
      if (ignored / predArea.get(id)! > 0.5) continue;
      this.stats.get(s.categoryId)!.fp += 1;
    }
    this.images++;
    return this;
  }

  /** Adds another accumulator's sums (e.g. from another thread). */
  merge(other: PanopticQuality): this {
    for (const [id, o] of other.stats) {
      const s = this.stats.get(id);
      if (!s) throw badInput(`cannot merge: category ${id} is unknown to this accumulator`);
      s.iou += o.iou;
      s.tp += o.tp;
      s.fp += o.fp;
      s.fn += o.fn;
    }
    this.images += other.images;
    return this;
  }

  /** Current sums per category id. */
  statsOf(categoryId: number): PanopticClassStats | undefined {
    const s = this.stats.get(categoryId);
    return s ? { ...s } : undefined;
  }

  result(): PanopticQualityResult {
    const perClass: PanopticQualityResult["perClass"] = [];
    for (const c of this.categories) {
      const s = this.stats.get(c.id)!;
      const denom = s.tp + 0.5 * s.fp + 0.5 * s.fn;
      const counted = s.tp + s.fp + s.fn > 0;
      perClass.push({
        categoryId: c.id,
        isThing: c.isThing,
        ...s,
        pq: counted ? s.iou / denom : null,
        sq: counted ? (s.tp !== 0 ? s.iou / s.tp : 0) : null,
        rq: counted ? s.tp / denom : null,
      });
    }
    const average = (filter: (isThing: boolean) => boolean): PqAverage => {
      let pq = 0;
      let sq = 0;
      let rq = 0;
      let n = 0;
      for (const c of perClass) {
        if (!filter(c.isThing) || c.pq === null) continue;
        pq += c.pq;
        sq += c.sq!;
        rq += c.rq!;
        n++;
      }
      return n > 0 ? { pq: pq / n, sq: sq / n, rq: rq / n, n } : { pq: 0, sq: 0, rq: 0, n: 0 };
    };
    return {
      all: average(() => true),
      things: average((t) => t),
      stuff: average((t) => !t),
      perClass,
    };
  }

  private segmentMap(segments: readonly PanopticSegment[], name: string, side: string): Map<number, PanopticSegment> {
    const map = new Map<number, PanopticSegment>();
    for (const s of segments) {
      if (s.id === PANOPTIC_VOID_ID) throw badInput(`${name}: ${side} segment id 0 is reserved for void`);
      if (map.has(s.id)) throw badInput(`${name}: ${side} segment id ${s.id} is listed twice`);
      if (!this.stats.has(s.categoryId)) throw badInput(`${name}: ${side} segment ${s.id} has unknown category ${s.categoryId}`);
      map.set(s.id, s);
    }
    return map;
  }
}
