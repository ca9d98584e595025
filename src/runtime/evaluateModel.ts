import {
  ConfusionMatrix,
  extractWindow,
  listDataset,
  meanIoU,
  prefetch,
  readDataset,
  resolvePanopticPostprocess,
  SlideAccumulator,
  type DatasetSample,
  type PanopticPostprocessOptions,
  type SlideWindow,
} from "../core/eval";
import { badInput, DomainError, invariant } from "../core/errors";
import { TransientRuntimeError } from "./runtimeFailure";
import { FastPngDecoder } from "../imaging/pngDecoder";
import { fastPreprocess } from "./fastPreprocess";
import type { EvaluateModelOptions, EvaluationResult } from "./evaluationTypes";
import type { OutputValue } from "./inferenceProtocol";
import { sessionThreads } from "./openSession";
import { planInput, type InputPlan } from "./planInput";
import { planModelIo, type ModelIo } from "./planModelIo";
import { readHeadOutputs } from "./readHeadOutputs";
import type { OutputKindName, RuntimeContract } from "./runtimeContract";
import { SampleScorer } from "./SampleScorer";
import { SessionThread } from "./SessionThread";
import { summarizeEvaluation } from "./summarizeEvaluation";

interface SampleState {
  sample: DatasetSample;
  plan: InputPlan;
  /** The preprocessed resized image [3, H, W] that windows are cut from, until the last is cut. */
  input: Float32Array | null;
  uncut: number;
  unscored: number;
  acc: SlideAccumulator | null;
}

interface Item {
  state: SampleState;
  window: SlideWindow | null;
}

interface Batch {
  items: Item[];
  /** [N, 3, H, W] float32; N ≥ items.length (a fixed batch dimension is filled with blank images). */
  data: Float32Array;
  dims: number[];
}

/** Batches sent to the inference thread ahead of the one being scored; 2 keeps the thread's queue non-empty. */
const IN_FLIGHT = 2;

/**
 * Evaluates an ONNX model on a dataset split: one onnxruntime session, images
 * streamed from disk, metrics over the whole split (mIoU from one confusion matrix; PQ as COCO
 * panopticapi).
 *
 * Work overlaps so that onnxruntime is the bottleneck: samples are decoded ahead by `prefetch`
 * (plain 8-bit PNGs on this thread by FastPngDecoder, so that decoding and scoring share one
 * core and onnxruntime keeps the other on a 2-core machine; other files by sharp on libuv's
 * threads); the session runs in its own thread (SessionThread), because
 * onnxruntime-node's session.run blocks its calling thread; while that thread runs batch k with
 * k + 1 queued behind it, this thread scores batch k − 1 and preprocesses k + 2. Memory holds the
 * prefetched samples plus three batches and their outputs.
 *
 * Caller mistakes — dataset files (pairing, sizes, label values, unreadable files), a model that
 * does not match its contract — are DomainErrors naming the file or tensor; an aborted `signal`
 * ends the run with DomainError code CANCELLED. A machine short of memory, file handles or threads,
 * or an inference thread that died, is a TransientRuntimeError (retried by the job layer).
 */
export async function evaluateModel(options: EvaluateModelOptions): Promise<EvaluationResult> {
  const started = performance.now();
  const { modelPath, contract, dataset, task, signal } = options;
  checkAbort(signal);
  const numClasses = checkOptions(options);
  const ignoreIndex = dataset.ignoreIndex ?? 255;
  const postprocess = resolvePanopticPostprocess(definedOnly(contract.postprocess ?? {}));
  const scorer = new SampleScorer(numClasses, ignoreIndex, dataset.classes, task === "PANOPTIC", postprocess, modelPath);
  meanIoU(new ConfusionMatrix(numClasses, ignoreIndex), { classes: options.classes }); // checks the subset before any work

  const index = await listDataset(dataset);
  const total = Math.min(index.entries.length, options.limit ?? Infinity);
  const threads = sessionThreads(options.threads, options.allowSpinning);
  const session = await SessionThread.open(modelPath, threads);
  const notes: string[] = [];
  try {
    checkAbort(signal);
    const io = planModelIo(session, contract, task, numClasses, modelPath);
    const batchSize = chooseBatchSize(options.batchSize ?? 1, io, notes);
    const kinds = new Map<string, OutputKindName>(contract.outputs.map((o) => [o.name, o.kind]));
    const decoder = options.decoder ?? new FastPngDecoder();
    const samples = prefetch(readDataset(dataset, decoder, { limit: total }), options.prefetchDepth ?? 2);

    let done = 0;
    const loopStart = performance.now();
    const finishSample = () => {
      done++;
      if (options.onProgress) {
        const elapsed = performance.now() - loopStart;
        options.onProgress(done, total, done < total ? (elapsed / done) * (total - done) : 0);
      }
    };

    const run = async (batch: Batch): Promise<Record<string, OutputValue>> => {
      const dims = batch.dims;
      try {
        return await session.run(io.inputName, batch.data, dims, io.fetches);
      } catch (e) {
        const what = `onnxruntime could not run model ${modelPath} on input "${io.inputName}" of shape [${dims.join(", ")}]`;
        // Out of memory or a dead inference thread may pass: retried. Anything else is the model's or input's fault.
        if (e instanceof TransientRuntimeError) throw new TransientRuntimeError(`${what}: ${e.message}`, { cause: e });
        throw badInput(`${what}: ${(e as Error).message}`, "inference", { file: modelPath });
      }
    };

    const score = (batch: Batch, outputs: Record<string, OutputValue>) => {
      const predictions = readHeadOutputs(outputs, io.head, kinds, batch.dims[0], numClasses, modelPath);
      batch.items.forEach((item, k) => {
        const p = predictions[k];
        const { state } = item;
        if (item.window) {
          invariant(p.kind === "logits", "windowed inference reads logits");
          state.acc ??= new SlideAccumulator(p.logits.channels, state.plan.height, state.plan.width);
          state.acc.add(item.window, p.logits.data, p.logits.height, p.logits.width, state.plan.tensorHeight, state.plan.tensorWidth);
          if (--state.unscored > 0) return;
          scorer.addLogits(state.sample, { data: state.acc.finish(), channels: p.logits.channels, height: state.plan.height, width: state.plan.width });
        } else if (p.kind === "logits") {
          scorer.addLogits(state.sample, p.logits);
        } else if (p.kind === "ids") {
          scorer.addIds(state.sample, p.ids);
        } else if (p.kind === "panopticIds") {
          scorer.addPanopticIds(state.sample, p.ids, io.fetches[0]);
        } else {
          scorer.addDeepLab(state.sample, p.semantic, p.center, p.offset);
        }
        finishSample();
      });
    };

    // Pipeline: the inference thread always has the next batch queued behind the one it runs, and this
    // thread scores a returned batch and prepares another meanwhile.
    const inflight: Array<{ batch: Batch; outputs: Promise<Record<string, OutputValue>> }> = [];
    const launch = (batch: Batch) => {
      const outputs = run(batch);
      outputs.catch(() => undefined); // awaited in order below; this only keeps a failure from being reported as unhandled meanwhile
      inflight.push({ batch, outputs });
    };
    const scoreOldest = async () => {
      const oldest = inflight[0];
      const outputs = await oldest.outputs;
      inflight.shift();
      checkAbort(signal);
      score(oldest.batch, outputs);
      // scoring keeps no view of the outputs: onnxruntime writes a later batch's into them
      session.recycle(oldest.batch.dims, outputs);
    };
    try {
      for await (const batch of batches(samples, contract, io, batchSize, modelPath, session)) {
        checkAbort(signal);
        launch(batch);
        if (inflight.length >= IN_FLIGHT) await scoreOldest();
      }
      while (inflight.length > 0) await scoreOldest();
    } finally {
      // never release the session under a running batch
      await Promise.all(inflight.map((f) => f.outputs.catch(() => undefined)));
    }
    checkAbort(signal);
    invariant(done === total, `every listed sample was scored (${done} of ${total})`);
    return summarizeEvaluation({
      task,
      dataset,
      scorer,
      classes: options.classes,
      images: done,
      durationMs: performance.now() - started,
      settings: { batchSize, ...threads, outputs: io.fetches },
      notes,
    });
  } finally {
    await session.release();
  }
}

/** Groups the samples' inputs (one per image, or one per SLIDE window) into batches of equal tensor size and fills their tensors. */
async function* batches(samples: AsyncIterable<DatasetSample>, contract: RuntimeContract, io: ModelIo, batchSize: number, modelPath: string, session: SessionThread): AsyncGenerator<Batch> {
  let open: { items: Item[]; height: number; width: number } | null = null;
  for await (const sample of samples) {
    const plan = planInput(sample.width, sample.height, contract, { height: io.fixedHeight, width: io.fixedWidth }, io.inputName);
    if (plan.windows && io.head.kind !== "logits") {
      throw badInput(`model ${modelPath}: ${contract.resize.mode === "SLIDE" ? "SLIDE inference" : `padding ${sample.name} to the model's fixed input size`} averages logits, so it needs a SEMANTIC_LOGITS output`, "inference.resize.mode");
    }
    const state: SampleState = { sample, plan, input: null, uncut: plan.windows?.length ?? 1, unscored: plan.windows?.length ?? 1, acc: null };
    if (plan.windows) state.input = fastPreprocess(sample.image, { ...normalisation(contract), width: plan.width, height: plan.height });
    for (const window of plan.windows ?? [null]) {
      if (open && (open.height !== plan.tensorHeight || open.width !== plan.tensorWidth)) {
        yield fill(open, contract, io, session);
        open = null;
      }
      open ??= { items: [], height: plan.tensorHeight, width: plan.tensorWidth };
      open.items.push({ state, window });
      if (open.items.length === batchSize) {
        yield fill(open, contract, io, session);
        open = null;
      }
    }
  }
  if (open) yield fill(open, contract, io, session);
}

function fill(open: { items: Item[]; height: number; width: number }, contract: RuntimeContract, io: ModelIo, session: SessionThread): Batch {
  const { items, height, width } = open;
  // A model with a fixed batch dimension gets full batches; the missing items are zero images whose outputs are ignored.
  const n = io.fixedBatch ?? items.length;
  const size = 3 * height * width;
  const data = session.inputBuffer(n * size);
  items.forEach((item, k) => {
    const { state } = item;
    const slot = data.subarray(k * size, (k + 1) * size);
    if (item.window) {
      extractWindow(state.input!, 3, state.plan.height, state.plan.width, item.window, height, width, slot);
      if (--state.uncut === 0) state.input = null;
    } else {
      fastPreprocess(state.sample.image, { ...normalisation(contract), width, height }, slot);
    }
  });
  return { items, data, dims: [n, 3, height, width] };
}

function normalisation(contract: RuntimeContract) {
  return { channelOrder: contract.channelOrder, mean: contract.mean, std: contract.std, normalization: contract.normalization };
}

function chooseBatchSize(requested: number, io: ModelIo, notes: string[]): number {
  if (io.fixedBatch === null || io.fixedBatch === requested) return requested;
  notes.push(`model input "${io.inputName}" has a fixed batch size of ${io.fixedBatch}; ran batches of ${io.fixedBatch} instead of ${requested}${io.fixedBatch > 1 ? " (the last one padded with blank images)" : ""}`);
  return io.fixedBatch;
}

/** Returns the number of classes (model channels): the largest class id + 1. */
function checkOptions(options: EvaluateModelOptions): number {
  const { dataset, task, batchSize, limit } = options;
  if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1024)) throw badInput(`batchSize must be an integer from 1 to 1024, got ${batchSize}`, "batchSize");
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw badInput(`limit must be a positive integer, got ${limit}`, "limit");
  if (options.prefetchDepth !== undefined && (!Number.isInteger(options.prefetchDepth) || options.prefetchDepth < 1)) throw badInput(`prefetchDepth must be a positive integer`, "prefetchDepth");
  if (task !== "SEMANTIC" && task !== "PANOPTIC") throw badInput(`task must be SEMANTIC or PANOPTIC, got ${String(task)}`, "task");
  if (task === "PANOPTIC" && dataset.format !== "COCO_PANOPTIC") throw badInput(`a PANOPTIC evaluation needs a COCO_PANOPTIC dataset; ${dataset.location} is ${dataset.format}`, "dataset.format");
  if (dataset.classes.length === 0) throw badInput(`dataset ${dataset.location} lists no classes`, "dataset.classes");
  return Math.max(...dataset.classes.map((c) => c.id)) + 1;
}

/** A contract's post-processing settings without its unset ones (so resolvePanopticPostprocess fills defaults). */
export function definedOnly(p: NonNullable<RuntimeContract["postprocess"]>): Partial<PanopticPostprocessOptions> {
  return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== null && v !== undefined)) as Partial<PanopticPostprocessOptions>;
}

function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new DomainError("CANCELLED", "evaluation cancelled", { cause: signal.reason });
}
