import { parseModelFile, ParseModelFileOptions } from "../core/formats/parseModelFile";
import { FileByteSource } from "../core/formats/byteSource";
import { openFileSink } from "../core/formats/fileSink";
import { openExternalData } from "../core/formats/onnx/externalData";
import { MAX_INLINE_MODEL_BYTES, planOnnxRewrite } from "../core/formats/onnx/planOnnxRewrite";
import { writeOnnxRewrite } from "../core/formats/onnx/writeOnnxRewrite";
import { badInput } from "../core/errors";
import * as fs from "node:fs";
import * as path from "node:path";
import { writeGraphWithWeights, type WriteGraphWithWeightsOptions } from "../core/graphWeights/writeGraphWithWeights";
import { runMerge, RunMergePayload, RunMergeResult } from "./runMerge";
import { pairSimilarity, type PairSimilarityPayload, type PairSimilarityResult } from "./pairSimilarity";
import { validateDataset } from "../core/eval/datasets/validateDataset";
import type { DatasetSpec } from "../core/eval/datasets/datasetTypes";
import { SharpDecoder } from "../imaging/sharpDecoder";
import { FastPngDecoder } from "../imaging/pngDecoder";
import type { EvaluateModelOptions, EvaluationResult } from "../runtime";
import type { ParsedModel } from "../core/structure/types";
import { structureKey } from "../core/structure/structureHash";
import { layoutOf } from "../core/structure/layout";
import type { GraphValue } from "../core/eval/inferContract";
import { readMergekitYaml, type ReadRecipe } from "../core/merge/mergekit/readMergekitYaml";
import { writeMergekitYaml, type MergekitRecipe } from "../core/merge/mergekit/writeMergekitYaml";

function graphIoOf(metadata: { inputs?: GraphValue[]; outputs?: GraphValue[] }): { inputs: GraphValue[]; outputs: GraphValue[] } {
  const strip = (v: GraphValue): GraphValue => ({ name: v.name, elemType: v.elemType, ...(v.shape ? { shape: v.shape } : {}) });
  return { inputs: (metadata.inputs ?? []).map(strip), outputs: (metadata.outputs ?? []).map(strip) };
}

/**
 * One evaluation's options; `modelPath` is the ONNX file run. With `checkpoint`, `modelPath` is
 * the checkpoint's graph model and the checkpoint's tensors replace its parameters
 * (core/graphWeights) before it runs.
 */
export type EvaluatePayload = Omit<EvaluateModelOptions, "onProgress" | "signal" | "decoder"> & { checkpoint?: { path: string; scratchDir: string; order?: WriteGraphWithWeightsOptions["order"] } };
import type { SearchImageSet } from "../runtime/search/searchImages";
import type { ScoreCandidateOptions } from "../runtime/search/scoreCandidate";
import { packStats, type PackedCandidateScores } from "./packedStats";
import type { RuntimeContract } from "../runtime/runtimeContract";
import { bootstrapDraws, resampledObjectives, type BootstrapDraws, type ObjectiveKind, type OutputActivation, type StatsMeasure } from "../core/search";

export interface ModelIdentity {
  format: ParsedModel["format"];
  /** The key of its Structure row (core/structure/structureHash). */
  structureKey: string;
  /** `layoutOf` the parse, as JSON text (what Artifact.layout stores). */
  layout: string;
  /** ONNX: the side files its tensors' data lives in (none for safetensors). */
  externalDataFiles: string[];
  /** ONNX: the graph's inputs (initializers excluded) and outputs, from which a contract is inferred. */
  graphIo: { inputs: GraphValue[]; outputs: GraphValue[] } | null;
}

/**
 * Every thread job a pool thread can run: name → handler. The pool's `run` is typed from this
 * map, so a thread job's name and its payload cannot drift apart.
 */
/** What a search's bootstrap needs to resample a candidate's objective (pickConfidence). */
export interface ResampleSettings {
  kind: StatsMeasure;
  classes: number;
  /** The objective's seed, as a decimal string. */
  seed: string;
}

/** The last bootstrap draws made on this thread: every candidate of a search uses the same. */
let lastDraws: { key: string; draws: BootstrapDraws } | null = null;

function drawsFor(seed: string, images: number): BootstrapDraws {
  const key = `${seed}/${images}`;
  if (lastDraws?.key !== key) lastDraws = { key, draws: bootstrapDraws(BigInt(seed), images) };
  return lastDraws.draws;
}

/** The largest in-memory candidate whose buffer a thread keeps between candidates. */
const KEPT_CANDIDATE_BYTES = 16 << 20;
let keptCandidate: Uint8Array | null = null;

/**
 * Memory for an in-memory candidate's merge, kept by this thread from one candidate to the next:
 * onnxruntime has read the bytes once the session is open, before the thread takes its next job.
 * A fresh half-megabyte buffer per candidate of the demo pool set off a full (mark-compact) GC
 * every few candidates, whose concurrent marking took a third of a core from the candidates.
 */
function candidateBuffer(merge: RunMergePayload): Uint8Array | undefined {
  if (merge.outFile !== null || !merge.anchor.file) return undefined;
  // Room for a rewrite a little larger than its anchor (the merge's metadata).
  const room = fs.statSync(merge.anchor.file).size + 4096;
  if (room > KEPT_CANDIDATE_BYTES) return undefined;
  if (!keptCandidate || keptCandidate.byteLength < room) keptCandidate = Buffer.allocUnsafe(Math.min(KEPT_CANDIDATE_BYTES, room + (room >> 3)));
  return keptCandidate;
}

export const threadJobs = {
  async parseModelFile(payload: { file: string; options: ParseModelFileOptions }): Promise<ParsedModel> {
    return parseModelFile(payload.file, payload.options);
  },
  /**
   * What registering a file whose structure is already stored needs, computed here: the API
   * thread then neither receives nor walks the tensors (~300 objects; registration asks for the
   * whole parse only when the structure is new).
   */
  async identifyModelFile(payload: { file: string; options: ParseModelFileOptions }): Promise<ModelIdentity> {
    const parsed = parseModelFile(payload.file, payload.options);
    return {
      format: parsed.format,
      structureKey: structureKey(parsed),
      layout: JSON.stringify(layoutOf(parsed)),
      externalDataFiles: (parsed.metadata as { externalDataFiles?: string[] }).externalDataFiles ?? [],
      graphIo: parsed.format === "onnx" ? graphIoOf(parsed.metadata as { inputs?: GraphValue[]; outputs?: GraphValue[] }) : null,
    };
  },
  /**
   * An imported ONNX model with external data becomes one self-contained file (the store is
   * content-addressed and cannot carry side files): the data is inlined as raw_data.
   */
  async inlineOnnxExternalData(payload: { file: string; out: string }): Promise<{ sizeBytes: number }> {
    const source = new FileByteSource(payload.file);
    const external = openExternalData(path.dirname(path.resolve(payload.file)));
    try {
      const parsed = parseModelFile(payload.file, { externalDataRoot: path.dirname(path.resolve(payload.file)) });
      const plan = planOnnxRewrite(source, parsed, new Set(), {}, { openExternal: external });
      if (plan.outputSize > MAX_INLINE_MODEL_BYTES) {
        throw badInput(`the model with its external data is ${plan.outputSize} bytes; a self-contained ONNX file is limited to 2 GiB (upload it as safetensors instead)`, "input.path");
      }
      const sink = await openFileSink(payload.out);
      try {
        await writeOnnxRewrite(plan, async () => new Uint8Array(0), sink);
        await sink.close();
      } catch (error) {
        await sink.abort();
        throw error;
      }
      return { sizeBytes: sink.bytesWritten };
    } finally {
      external.close();
      source.close();
    }
  },
  async runMerge(payload: RunMergePayload, progress: (p: unknown) => void): Promise<RunMergeResult> {
    return runMerge(payload, progress);
  },
  /** A mergekit config read as a recipe (a large one takes a while to parse: off the API's event loop). */
  async readMergekitYaml(payload: { text: string }): Promise<ReadRecipe> {
    return readMergekitYaml(payload.text);
  },
  /** A stored recipe written as a mergekit config (one list of L weights per model). */
  async writeMergekitYaml(payload: { recipe: MergekitRecipe }): Promise<string | null> {
    return writeMergekitYaml(payload.recipe);
  },
  /** Cosine similarities of two models' shared tensors (merge candidates' similarity signals). */
  async pairSimilarity(payload: PairSimilarityPayload): Promise<PairSimilarityResult> {
    return pairSimilarity(payload);
  },
  /** Checks a dataset's files (pairing, label values, isThing) and computes its size and checksum. */
  async validateDataset(payload: { spec: DatasetSpec }, progress: (p: unknown) => void, signal?: AbortSignal) {
    return validateDataset(payload.spec, new SharpDecoder(), { maxProblems: 200, onProgress: (done, total) => progress({ done, total }), signal });
  },
  /**
   * One evaluation. onnxruntime is loaded here, in the pool thread, on first use: the API thread
   * never imports it, and its pre/post-processing never runs on the API's event loop.
   */
  async evaluate(payload: EvaluatePayload, progress: (p: unknown) => void, signal?: AbortSignal): Promise<EvaluationResult> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { evaluateModel } = require("../runtime") as typeof import("../runtime");
    const { checkpoint, ...options } = payload;
    const run = (modelPath: string) => evaluateModel({ ...options, modelPath, signal, onProgress: (done, total, etaMs) => progress({ done, total, etaMs }) });
    if (!checkpoint) return run(payload.modelPath);
    // A checkpoint runs through its graph: the graph's file with the checkpoint's weights, written
    // to the job's scratch folder and removed when the evaluation ends.
    const bound = path.join(checkpoint.scratchDir, "graph-with-weights.onnx");
    try {
      const { notes } = await writeGraphWithWeights(payload.modelPath, checkpoint.path, bound, { order: checkpoint.order });
      const result = await run(bound);
      return { ...result, notes: [...notes, ...result.notes] };
    } finally {
      fs.rmSync(bound, { force: true });
    }
  },
  /**
   * A merge search's images (and labels for SCORE and audit datasets), decoded once into shared
   * memory; plain PNGs by evaluation's own decoder (the same samples as sharp's, without a libvips
   * pipeline per file: most of a small search's preparation), the rest by sharp.
   */
  async loadSearchImages(payload: { spec: DatasetSpec; limit: number; labels: boolean }, _progress?: unknown, signal?: AbortSignal): Promise<SearchImageSet> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { loadSearchImages } = require("../runtime/search/searchImages") as typeof import("../runtime/search/searchImages");
    return loadSearchImages(payload.spec, new FastPngDecoder(), payload.limit, payload.labels, signal);
  },
  /** ENSEMBLE_AGREEMENT's pseudo-labels from the pool's models. */
  async ensembleLabels(payload: { models: Array<{ modelPath: string; contract: RuntimeContract; activation: OutputActivation }>; set: SearchImageSet; numClasses: number }, _progress?: unknown, signal?: AbortSignal): Promise<Uint16Array[]> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { ensembleLabels } = require("../runtime/search/ensembleLabels") as typeof import("../runtime/search/ensembleLabels");
    return ensembleLabels(payload.models, payload.set, payload.numClasses, 1, signal);
  },
  /**
   * One merge search candidate: a merge is written to scratch space (no artifact, no model row),
   * scored straight from there and removed; a single model is scored from its artifact's file.
   */
  async scoreSearchCandidate(payload: { merge: RunMergePayload | null; score: Omit<ScoreCandidateOptions, "signal">; resample?: ResampleSettings | null }, _progress?: unknown, signal?: AbortSignal): Promise<PackedCandidateScores> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { scoreCandidate } = require("../runtime/search/scoreCandidate") as typeof import("../runtime/search/scoreCandidate");
    const started = performance.now();
    const outFile = payload.merge?.outFile ?? null;
    try {
      // A merge without outFile is made in memory and handed to onnxruntime as bytes.
      const merged = payload.merge ? await runMerge(payload.merge, () => undefined, { outputBuffer: candidateBuffer(payload.merge) }) : null;
      const scores = await scoreCandidate({ ...payload.score, modelBytes: merged?.bytes, signal });
      const objective = packStats(scores.objective);
      // The bootstrap's share of this candidate, here while the next candidate waits on no one.
      const r = payload.resample;
      const resampled = r && objective.length > 0 ? resampledObjectives(r.kind, r.classes, objective.data, objective.length, drawsFor(r.seed, scores.objective.length)) : null;
      return { objective, audit: scores.audit ? packStats(scores.audit) : null, resampled, seconds: (performance.now() - started) / 1000 };
    } finally {
      if (outFile) fs.rmSync(outFile, { force: true });
    }
  },
  /**
   * The resampled objectives (pickConfidence's bootstrap) of candidates scored elsewhere: `blocks[c]`
   * holds candidate c's per-image statistics, `length` each.
   */
  async searchResampled(payload: { blocks: Float64Array[]; length: number } & ResampleSettings): Promise<Float64Array[]> {
    return payload.blocks.map((block) => resampledObjectives(payload.kind, payload.classes, block, payload.length, drawsFor(payload.seed, block.length / payload.length)));
  },
  async sleep(payload: { ms: number }): Promise<number> {
    // Used by tests to show that the pool keeps the caller's event loop free.
    const until = Date.now() + payload.ms;
    while (Date.now() < until) {
      /* busy on purpose */
    }
    return payload.ms;
  },
} as const;

export type ThreadJobName = keyof typeof threadJobs;

/**
 * Thread jobs that run native code (onnxruntime sessions, sharp decoding). Their thread must not
 * be terminated mid-job — onnxruntime's completion then throws into a torn-down thread and
 * aborts the process — so a cancel reaches them as an aborted signal, checked per image.
 */
export const NATIVE_THREAD_JOBS: ReadonlySet<ThreadJobName> = new Set<ThreadJobName>(["evaluate", "validateDataset", "loadSearchImages", "ensembleLabels", "scoreSearchCandidate"]);
export type ThreadJobPayload<K extends ThreadJobName> = Parameters<(typeof threadJobs)[K]>[0];
export type ThreadJobResult<K extends ThreadJobName> = Awaited<ReturnType<(typeof threadJobs)[K]>>;
