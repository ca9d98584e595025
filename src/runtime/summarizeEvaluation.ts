import { meanIoU, type DatasetSpec } from "../core/eval";
import { badInput } from "../core/errors";
import type { EvaluationResult, EvaluationSettings, EvaluationTask, PerClassScore } from "./evaluationTypes";
import type { SampleScorer } from "./SampleScorer";

export interface EvaluationSummaryInput {
  task: EvaluationTask;
  dataset: DatasetSpec;
  scorer: SampleScorer;
  classes?: readonly number[];
  images: number;
  durationMs: number;
  settings: EvaluationSettings;
  notes: string[];
}

/** The metrics of a finished run, per class in class-id order, scores as unrounded fractions. */
export function summarizeEvaluation(input: EvaluationSummaryInput): EvaluationResult {
  const { task, dataset, scorer } = input;
  const miou = meanIoU(scorer.cm, { classes: input.classes });
  const pq = scorer.pq?.result() ?? null;
  const pqOf = new Map(pq?.perClass.map((c) => [c.categoryId, c]) ?? []);
  const perClass: PerClassScore[] = [...dataset.classes]
    .sort((a, b) => a.id - b.id)
    .map((c) => {
      const row: PerClassScore = { classId: c.id, name: c.name, isThing: c.isThing, iou: miou.perClass[c.id], acc: miou.perClassAcc[c.id] };
      const p = pqOf.get(c.id);
      if (p) Object.assign(row, { pq: p.pq, sq: p.sq, rq: p.rq, tp: p.tp, fp: p.fp, fn: p.fn });
      return row;
    });
  let score: number;
  if (task === "PANOPTIC") {
    score = pq!.all.pq;
  } else {
    if (miou.mIoU === null) {
      throw badInput(`no pixel of ${input.classes ? "the selected classes" : "any class"} is labelled or predicted in the ${input.images} evaluated image(s) of ${dataset.location}; mIoU is undefined`, input.classes ? "classes" : undefined);
    }
    score = miou.mIoU;
  }
  return {
    task,
    score,
    metrics: {
      mIoU: miou.mIoU,
      aAcc: miou.aAcc,
      mAcc: miou.mAcc,
      nClasses: miou.nClasses,
      pixels: miou.pixels,
      classSubset: input.classes ? [...input.classes] : null,
      ...(pq ? { pq: { all: pq.all, things: pq.things, stuff: pq.stuff } } : {}),
    },
    perClass,
    images: input.images,
    durationMs: input.durationMs,
    settings: input.settings,
    notes: input.notes,
  };
}
