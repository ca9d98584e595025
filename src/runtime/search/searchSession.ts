import * as ort from "onnxruntime-node";
import { badInput, invariant } from "../../core/errors";
import { preprocessImage, type PixelImage, type PreprocessOptions } from "../../core/eval";
import { fastPreprocess } from "../fastPreprocess";
import type { OutputValue, ValueMetadata } from "../inferenceProtocol";
import { openSession, type SessionThreads } from "../openSession";
import { planInput } from "../planInput";
import { planModelIo, type ModelIo } from "../planModelIo";
import { readHeadOutputs, type FloatMap, type ItemPrediction } from "../readHeadOutputs";
import type { OutputKindName, RuntimeContract } from "../runtimeContract";
import type { SemanticOutput } from "./outputReduction";
import { OutputBuffers } from "./outputBuffers";
import { IdleSweep } from "./idleSweep";

export { classesAtImageSize, scoresAtImageSize, type SemanticOutput } from "./outputReduction";

/** An image as the session reads it: 8-bit pixels, or a perturbed copy's float32 0–255 values. */
export interface SearchPixels {
  /** A search image's id (SharedImage.id): its preprocessed input is then kept on this thread. */
  id?: string;
  width: number;
  height: number;
  channels: number;
  data: Uint8Array | Float32Array;
}

/** A Panoptic-DeepLab model's heads for one image (sessions opened for panoptic quality). */
export interface DeepLabHeads {
  semantic: FloatMap;
  center: FloatMap;
  offset: FloatMap;
}

/** What this thread may hold of preprocessed search images. */
const PREPROCESSED_BYTES = 64 << 20;
/** Image sets whose inputs are kept at once (two searches may share a thread). */
const PREPROCESSED_SETS = 2;
/** How long unused inputs are kept. */
const PREPROCESSED_IDLE_MS = 30_000;

/**
 * Preprocessed inputs of a search's images on this thread, by image and preprocessing. Every
 * candidate runs the same images, and candidates share their anchors' preprocessing, so an image
 * is normalised once per thread rather than once per candidate (on the demo pool's 64² images
 * that was a tenth of a candidate's time). Images are admitted while the thread holds less than
 * PREPROCESSED_BYTES and then kept: a search passes over its images in order, again and again,
 * where evicting the oldest would miss every time. A set not seen for the last PREPROCESSED_SETS
 * sets is dropped, and so is every set once none has been used for PREPROCESSED_IDLE_MS (a pool
 * thread outlives its searches). Inputs are only read (onnxruntime does not write its inputs).
 */
export class PreprocessedInputs {
  private readonly sets = new Map<string, Map<string, Float32Array>>();
  private bytes = 0;
  private readonly idle: IdleSweep;

  constructor(
    private readonly maxBytes = PREPROCESSED_BYTES,
    private readonly maxSets = PREPROCESSED_SETS,
    idleMs = PREPROCESSED_IDLE_MS,
  ) {
    this.idle = new IdleSweep(idleMs, () => this.clear());
  }

  /** Lets go of every kept input. */
  clear(): void {
    this.sets.clear();
    this.bytes = 0;
    this.idle.cancel();
  }

  /** Bytes of inputs held. */
  get heldBytes(): number {
    return this.bytes;
  }

  get(image: SearchPixels, options: PreprocessOptions): Float32Array {
    if (image.id === undefined) return fastPreprocess(image as PixelImage, options);
    this.idle.touch();
    const slash = image.id.lastIndexOf("/");
    const setId = image.id.slice(0, slash);
    let set = this.sets.get(setId);
    if (set) {
      // most recently used last
      this.sets.delete(setId);
      this.sets.set(setId, set);
    } else {
      set = new Map();
      this.sets.set(setId, set);
      for (const [oldest, entries] of this.sets) {
        if (this.sets.size <= this.maxSets) break;
        for (const input of entries.values()) this.bytes -= input.byteLength;
        this.sets.delete(oldest);
      }
    }
    const key = `${image.id.slice(slash + 1)} ${JSON.stringify(options)}`;
    const kept = set.get(key);
    if (kept) return kept;
    const input = fastPreprocess(image as PixelImage, options);
    if (this.bytes + input.byteLength <= this.maxBytes) {
      set.set(key, input);
      this.bytes += input.byteLength;
    }
    return input;
  }
}

const preprocessed = new PreprocessedInputs();
const outputBuffers = new OutputBuffers();

/** Bytes of recycled output memory this thread keeps. */
export function spareOutputBytes(): number {
  return outputBuffers.heldBytes;
}

/** Gives an output's memory back once it has been reduced, when it is this thread's recycled memory. */
export function recycleOutput(out: SemanticOutput): void {
  if (out.kind === "scores") outputBuffers.give(out.map.data.buffer);
}

/**
 * One model for a merge search, on the calling (worker) thread: a candidate's thread runs one
 * image at a time, so nothing is gained by a second thread for the session. The geometry is
 * evaluation's (planInput, mmseg's resize) and the semantic head is the one evaluation reads
 * (SEMANTIC_LOGITS, SEMANTIC_IDS, or a Panoptic-DeepLab model's PANOPTIC_SEMANTIC).
 */
export class SearchSession {
  /**
   * The outputs' shapes by input shape, once seen: later runs of that shape write into recycled
   * buffers (OutputBuffers). Only for a single float32 score output (SEMANTIC_LOGITS).
   */
  private readonly outputDims = new Map<string, number[]>();
  /** False once onnxruntime refused a recycled output (a shape that depends on the data). */
  private reuse: boolean;

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly io: ModelIo,
    private readonly contract: RuntimeContract,
    private readonly numClasses: number,
    private readonly modelPath: string,
  ) {
    this.reuse = io.head.kind === "logits" && io.fetches.length === 1;
  }

  /**
   * `panoptic`: the session also reads a Panoptic-DeepLab model's center and offset heads
   * (`runPanoptic`), as evaluation does for a PANOPTIC task. `bytes`: the model itself (a merge
   * made in memory), `modelPath` then names it in messages.
   */
  static async open(modelPath: string, contract: RuntimeContract, numClasses: number, threads: SessionThreads, panoptic = false, bytes?: Uint8Array): Promise<SearchSession> {
    const session = await openSession(modelPath, threads, bytes);
    try {
      const shape = {
        inputNames: session.inputNames,
        outputNames: session.outputNames,
        inputMetadata: session.inputMetadata.map(plain),
        outputMetadata: session.outputMetadata.map(plain),
      };
      const semanticOnly: RuntimeContract = { ...contract, outputs: contract.outputs.filter((o) => o.kind === "SEMANTIC_LOGITS" || o.kind === "SEMANTIC_IDS" || o.kind === "PANOPTIC_SEMANTIC") };
      if (semanticOnly.outputs.length === 0) throw badInput(`model ${modelPath}: a merge search reads a semantic output (SEMANTIC_LOGITS, SEMANTIC_IDS or PANOPTIC_SEMANTIC); the contract lists ${contract.outputs.map((o) => o.kind).join(", ")}`, "inference.outputs");
      if (panoptic) {
        const io = planModelIo(shape, contract, "PANOPTIC", numClasses, modelPath);
        if (io.head.kind !== "deeplab") throw badInput(`model ${modelPath}: panoptic quality in a merge search reads Panoptic-DeepLab heads (PANOPTIC_SEMANTIC, PANOPTIC_CENTER, PANOPTIC_OFFSET); the contract lists ${contract.outputs.map((o) => o.kind).join(", ")}`, "inference.outputs");
        return new SearchSession(session, io, contract, numClasses, modelPath);
      }
      const io = planModelIo(shape, semanticOnly, "SEMANTIC", numClasses, modelPath);
      return new SearchSession(session, io, semanticOnly, numClasses, modelPath);
    } catch (error) {
      await session.release();
      throw error;
    }
  }

  get producesIds(): boolean {
    return this.io.head.kind !== "logits" && this.io.head.kind !== "deeplab";
  }

  /** The semantic output of one image (batch 1), at the model's output size. */
  async run(image: SearchPixels): Promise<SemanticOutput> {
    const p = await this.infer(image);
    if (p.kind === "logits") return { kind: "scores", map: p.logits };
    if (p.kind === "ids") return { kind: "ids", map: p.ids };
    if (p.kind === "deeplab") return { kind: "scores", map: p.semantic };
    throw badInput(`model ${this.modelPath}: a merge search reads semantic outputs`, "inference.outputs");
  }

  /** The Panoptic-DeepLab heads of one image (a session opened with `panoptic`), at the model's output size. */
  async runPanoptic(image: SearchPixels): Promise<DeepLabHeads> {
    const p = await this.infer(image);
    invariant(p.kind === "deeplab", "runPanoptic needs a session opened for panoptic quality");
    return { semantic: p.semantic, center: p.center, offset: p.offset };
  }

  private async infer(image: SearchPixels): Promise<ItemPrediction> {
    const plan = planInput(image.width, image.height, this.contract, { height: this.io.fixedHeight, width: this.io.fixedWidth }, this.io.inputName);
    if (plan.windows) throw badInput(`model ${this.modelPath}: a merge search runs whole images; SLIDE inference and padding to a fixed input size are not supported by it`, "inference.resize.mode");
    const options = { channelOrder: this.contract.channelOrder, mean: this.contract.mean, std: this.contract.std, normalization: this.contract.normalization, width: plan.width, height: plan.height };
    // fastPreprocess looks bytes up in a table; a perturbed copy's float values take core's path,
    // whose arithmetic reads any numeric array.
    const input = image.data instanceof Uint8Array ? preprocessed.get(image, options) : preprocessImage(image as unknown as PixelImage, options);
    const n = this.io.fixedBatch ?? 1;
    const data = n === 1 ? input : (() => {
      const d = new Float32Array(n * input.length);
      d.set(input);
      return d;
    })();
    const feeds = { [this.io.inputName]: new ort.Tensor("float32", data, [n, 3, plan.height, plan.width]) };
    const shapeKey = `${n}x${plan.height}x${plan.width}`;
    const dims = this.reuse ? this.outputDims.get(shapeKey) : undefined;
    let result: ort.InferenceSession.OnnxValueMapType;
    try {
      result = dims ? await this.runInto(feeds, dims) : await this.session.run(feeds, this.io.fetches);
    } catch (e) {
      throw badInput(`onnxruntime could not run model ${this.modelPath}: ${(e as Error).message}`, "inference", { file: this.modelPath });
    }
    if (this.reuse && !dims) {
      const t = result[this.io.fetches[0]] as ort.Tensor;
      if (t.type === "float32") this.outputDims.set(shapeKey, [...t.dims]);
      else this.reuse = false;
    }
    const outputs: Record<string, OutputValue> = {};
    for (const name of this.io.fetches) {
      const t = result[name] as ort.Tensor;
      outputs[name] = { type: t.type, dims: [...t.dims], data: t.data as OutputValue["data"] };
    }
    const kinds = new Map<string, OutputKindName>(this.contract.outputs.map((o) => [o.name, o.kind]));
    const [p] = readHeadOutputs(outputs, this.io.head, kinds, n, this.numClasses, this.modelPath);
    return p;
  }

  /**
   * session.run with the output written into this thread's recycled memory. onnxruntime-node
   * 1.30 fills a pre-allocated output and returns a copy of it: the copy is the output (left to
   * the garbage collector once reduced) and the memory goes back to the pool for the next run.
   * Handing the recycled memory itself out instead, to the reducer thread and back, made every
   * output an old-generation buffer: a major collection per image on the candidate's thread
   * (bench:search, 512² net). Should a run return the memory itself, that is the output. An
   * output whose shape onnxruntime refuses (it depends on the data) is computed again into fresh
   * memory, and this session recycles no more.
   */
  private async runInto(feeds: Record<string, ort.Tensor>, dims: number[]): Promise<ort.InferenceSession.OnnxValueMapType> {
    const name = this.io.fetches[0];
    const count = dims.reduce((a, b) => a * b, 1);
    const memory = outputBuffers.take(count * 4);
    let result: ort.InferenceSession.OnnxValueMapType;
    const into = new ort.Tensor("float32", new Float32Array(memory), dims);
    try {
      result = await this.session.run(feeds, { [name]: into });
    } catch {
      outputBuffers.give(memory);
      this.reuse = false;
      return this.session.run(feeds, this.io.fetches);
    }
    const returned = result[name] as ort.Tensor | undefined;
    if (returned && (returned.data as Float32Array).buffer !== memory) {
      outputBuffers.give(memory);
      return { [name]: returned };
    }
    return { [name]: into };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

function plain(m: ort.InferenceSession.ValueMetadata): ValueMetadata {
  return m.isTensor ? { name: m.name, isTensor: true, type: m.type, shape: [...m.shape] } : { name: m.name, isTensor: false };
}
