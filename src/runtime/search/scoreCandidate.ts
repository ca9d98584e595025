import { badInput } from "../../core/errors";
import { agreementStats, flipClassMap, perturbImage, type ImageStats, type ObjectiveKind, type OutputActivation, type PerturbationDraw } from "../../core/search";
import { sessionThreads } from "../openSession";
import type { RuntimeContract } from "../runtimeContract";
import { OutputReducer } from "./outputReducer";
import { reduceOutput, type OutputReduction, type SemanticOutput } from "./outputReduction";
import { classesAtImageSize, recycleOutput, SearchSession } from "./searchSession";
import type { SearchImageSet, SharedImage } from "./searchImages";
import { resolvePanopticPostprocess } from "../../core/eval";
import { definedOnly } from "../evaluateModel";
import { panopticImageStats } from "./panopticImageStats";

/**
 * Outputs waiting at the reducer thread: more than MAX_PENDING only while they hold less than
 * PENDING_BYTES together. Large outputs (a 512² image's 19 score planes, 20 MB) are bounded by
 * count, which bounds their memory; small ones (a 64² model's, 20 KB) go on without waiting for
 * the reducer's replies — each wait is a hand-over between threads, which on a loaded machine
 * costs a scheduling delay longer than the small model's session.run.
 */
const MAX_PENDING = 2;
const PENDING_BYTES = 16 << 20;
/**
 * Outputs up to this size are reduced on the candidate's own thread: handing one to the reducer
 * costs both threads a wake-up and a message (~0.3 ms of CPU on a 2-core machine, bench:search),
 * more than reducing a small output takes (a 64² image's 5 score planes, 80 KB: ~0.2 ms). With
 * candidates on every core, that CPU is what the next candidate waits for.
 */
const INLINE_REDUCE_BYTES = 256 << 10;

export interface ScoreCandidateOptions {
  /** The candidate's ONNX file (a pool model's, or the merge written to scratch space), or its name when `modelBytes` holds it. */
  modelPath: string;
  /** The candidate's ONNX bytes (a merge made in memory), read instead of `modelPath`. */
  modelBytes?: Uint8Array;
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
  threads?: number;
  /** The task's primary metric, which SCORE and the audit compute: PQ for a panoptic task (default MIOU). */
  metric?: "MIOU" | "PQ";
  signal?: AbortSignal;
}

export interface CandidateScores {
  /** Per-image statistics of the objective, in image order. */
  objective: ImageStats[];
  audit: ImageStats[] | null;
}

/**
 * Runs one candidate over the search's images and reduces every output to its image's
 * statistics as it comes (docs/CONVENTIONS.md, Merge search), on the reducer thread while the
 * session runs the next image; at most MAX_PENDING outputs, or PENDING_BYTES of them, are held
 * at a time.
 */
export async function scoreCandidate(options: ScoreCandidateOptions): Promise<CandidateScores> {
  const { numClasses: C, objective } = options;
  const pq = options.metric === "PQ" && (objective.kind === "SCORE" || !!options.audit);
  const session = await SearchSession.open(options.modelPath, options.contract, C, sessionThreads(options.threads ?? 1), pq, options.modelBytes);
  const postprocess = resolvePanopticPostprocess(definedOnly(options.contract.postprocess ?? {}));
  /** A labelled image's PQ statistics (Panoptic-DeepLab post-processing, as evaluation does), on this thread. */
  const panoptic = async (img: SharedImage, set: SearchImageSet): Promise<ImageStats> => panopticImageStats(img, await session.runPanoptic(img), set.categories, C, postprocess);
  try {
    const kind = objective.kind;
    if ((kind === "INFO_MAX" || kind === "ENTROPY") && session.producesIds) {
      throw badInput(`model ${options.modelPath} outputs class ids; ${kind} needs its scores (SEMANTIC_LOGITS or PANOPTIC_SEMANTIC)`, "input.modelIds");
    }
    // Large outputs go to the reducer thread while this thread runs the next image; at most
    // MAX_PENDING outputs, or more holding less than PENDING_BYTES, wait there: that bounds
    // the memory they hold. Small ones are reduced here (INLINE_REDUCE_BYTES).
    let reducer: OutputReducer | null = null;
    const pending: Array<Promise<ImageStats>> = [];
    /** The bytes of the outputs sent to the reducer, by their index in `pending`. */
    const sentBytes = new Map<number, number>();
    let settled = 0;
    let heldBytes = 0;
    const reduce = async (out: SemanticOutput, reduction: OutputReduction): Promise<void> => {
      const bytes = out.map.data.byteLength;
      if (bytes <= INLINE_REDUCE_BYTES) {
        pending.push(Promise.resolve(reduceOutput(out, reduction)));
        recycleOutput(out);
        sentBytes.set(pending.length - 1, 0);
        return;
      }
      reducer ??= OutputReducer.get();
      const p = reducer.reduce(out, reduction);
      p.catch(() => undefined); // awaited below, in order
      pending.push(p);
      sentBytes.set(pending.length - 1, bytes);
      heldBytes += bytes;
      while (pending.length - settled > MAX_PENDING && heldBytes > PENDING_BYTES) {
        await pending[settled];
        heldBytes -= sentBytes.get(settled) ?? 0;
        settled++;
      }
    };
    const objectiveCount = objective.set.images.length;
    for (const [i, img] of objective.set.images.entries()) {
      if (options.signal?.aborted) throw badInput("cancelled");
      if (kind === "SCORE" && options.metric === "PQ") {
        pending.push(panoptic(img, objective.set));
        await pending[pending.length - 1];
        continue;
      }
      const out = await session.run(img);
      const size = { height: img.height, width: img.width, classes: C };
      if (kind === "INFO_MAX" || kind === "ENTROPY") {
        if (out.kind !== "scores") throw badInput(`model ${options.modelPath} outputs class ids; ${kind} needs scores`);
        await reduce(out, { kind: "probability", ...size, activation: options.activation });
      } else if (kind === "SCORE") {
        await reduce(out, { kind: "agreement", ...size, reference: img.label!, ignoreIndex: objective.set.ignoreIndex });
      } else if (kind === "CONSISTENCY") {
        const clean = classesAtImageSize(out, img.height, img.width);
        recycleOutput(out);
        const copy = perturbImage(img, objective.draws![i]);
        const perturbedOut = await session.run(copy);
        const perturbed = classesAtImageSize(perturbedOut, img.height, img.width);
        recycleOutput(perturbedOut);
        pending.push(Promise.resolve(agreementStats(flipClassMap(perturbed as Uint16Array, img.height, img.width), clean, C)));
      } else {
        await reduce(out, { kind: "agreement", ...size, reference: objective.pseudoLabels![i], ignoreIndex: -1 });
      }
    }
    if (options.audit) {
      for (const img of options.audit.images) {
        if (options.metric === "PQ") {
          pending.push(panoptic(img, options.audit));
          await pending[pending.length - 1];
          continue;
        }
        const out = await session.run(img);
        await reduce(out, { kind: "agreement", height: img.height, width: img.width, classes: C, reference: img.label!, ignoreIndex: options.audit.ignoreIndex });
      }
    }
    const all = await Promise.all(pending);
    const stats = all.slice(0, objectiveCount);
    const audit = options.audit ? all.slice(objectiveCount) : null;
    return { objective: stats, audit };
  } finally {
    await session.release();
  }
}
