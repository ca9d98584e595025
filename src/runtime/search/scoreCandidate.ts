import { badInput } from "../../core/errors";
import { agreementStats, flipClassMap, perturbImage, probabilityStats, type ImageStats, type ObjectiveKind, type OutputActivation, type PerturbationDraw } from "../../core/search";
import { sessionThreads } from "../openSession";
import type { RuntimeContract } from "../runtimeContract";
import { classesAtImageSize, scoresAtImageSize, SearchSession } from "./searchSession";
import type { SearchImageSet, SharedImage } from "./searchImages";
import { resolvePanopticPostprocess } from "../../core/eval";
import { definedOnly } from "../evaluateModel";
import { panopticImageStats } from "./panopticImageStats";

export interface ScoreCandidateOptions {
  /** The candidate's ONNX file (a pool model's, or the merge written to scratch space). */
  modelPath: string;
  contract: RuntimeContract;
  activation: OutputActivation;
  numClasses: number;
  objective: {
    kind: ObjectiveKind;
    set: SearchImageSet;
    /** CONSISTENCY: the draws of each image. */
    draws?: PerturbationDraw[];
    /** ENSEMBLE_AGREEMENT: the pool's pseudo-labels of each image. */
    pseudoLabels?: Array<Uint16Array>;
  };
  /** A labelled dataset scored beside the objective (never used to choose). */
  audit?: SearchImageSet | null;
  /** The task's primary metric, which SCORE and the audit compute: PQ for a panoptic task (default MIOU). */
  metric?: "MIOU" | "PQ";
  threads?: number;
  signal?: AbortSignal;
}

export interface CandidateScores {
  /** Per-image statistics of the objective, in image order. */
  objective: ImageStats[];
  audit: ImageStats[] | null;
}

/**
 * Runs one candidate over the search's images and reduces every output to its image's
 * statistics as it comes (docs/CONVENTIONS.md, Merge search); no output outlives its image.
 */
export async function scoreCandidate(options: ScoreCandidateOptions): Promise<CandidateScores> {
  const { numClasses: C, objective } = options;
  const pq = options.metric === "PQ" && (objective.kind === "SCORE" || !!options.audit);
  const session = await SearchSession.open(options.modelPath, options.contract, C, sessionThreads(options.threads ?? 1), pq);
  const postprocess = resolvePanopticPostprocess(definedOnly(options.contract.postprocess ?? {}));
  /** A labelled image's score statistics: the primary metric's. */
  const scored = async (img: SharedImage, set: SearchImageSet): Promise<ImageStats> =>
    options.metric === "PQ"
      ? panopticImageStats(img, await session.runPanoptic(img), set.categories, C, postprocess)
      : agreementStats(classesAtImageSize(await session.run(img), img.height, img.width), img.label!, C, set.ignoreIndex);
  try {
    const kind = objective.kind;
    if ((kind === "INFO_MAX" || kind === "ENTROPY") && session.producesIds) {
      throw badInput(`model ${options.modelPath} outputs class ids; ${kind} needs its scores (SEMANTIC_LOGITS or PANOPTIC_SEMANTIC)`, "input.modelIds");
    }
    const stats: ImageStats[] = [];
    for (const [i, img] of objective.set.images.entries()) {
      if (options.signal?.aborted) throw badInput("cancelled");
      if (kind === "SCORE") {
        stats.push(await scored(img, objective.set));
        continue;
      }
      const out = await session.run(img);
      const pixels = img.width * img.height;
      if (kind === "INFO_MAX" || kind === "ENTROPY") {
        if (out.kind !== "scores") throw badInput(`model ${options.modelPath} outputs class ids; ${kind} needs scores`);
        stats.push(probabilityStats(scoresAtImageSize(out.map, img.height, img.width), C, pixels, options.activation));
      } else if (kind === "CONSISTENCY") {
        const clean = classesAtImageSize(out, img.height, img.width);
        const copy = perturbImage(img, objective.draws![i]);
        const perturbed = classesAtImageSize(await session.run(copy), img.height, img.width);
        stats.push(agreementStats(flipClassMap(perturbed as Uint16Array, img.height, img.width), clean, C));
      } else {
        stats.push(agreementStats(classesAtImageSize(out, img.height, img.width), objective.pseudoLabels![i], C));
      }
    }
    let audit: ImageStats[] | null = null;
    if (options.audit) {
      audit = [];
      for (const img of options.audit.images) audit.push(await scored(img, options.audit));
    }
    return { objective: stats, audit };
  } finally {
    await session.release();
  }
}
