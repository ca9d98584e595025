import { availableParallelism } from "os";
import * as ort from "onnxruntime-node";
import { badInput } from "../core/errors";
import { isResourceExhaustion, TransientRuntimeError } from "./runtimeFailure";

export interface SessionThreads {
  intraOpNumThreads: number;
  interOpNumThreads: number;
  executionMode: "sequential" | "parallel";
  /** onnxruntime's `session.intra_op.allow_spinning`: idle pool threads busy-wait for work. */
  allowSpinning: boolean;
}

/**
 * Thread settings of an evaluation session. Segmentation nets are a chain of large convolutions,
 * so all parallelism goes to intra-op threads (one per core but one by default: onnxruntime's
 * pool plus the calling thread) and the graph runs sequentially (`interOpNumThreads` 1; with `executionMode`
 * sequential onnxruntime creates no inter-op pool).
 *
 * Spinning is off by default: an evaluation shares the cores with its own decoding and scoring
 * (and a registry machine with other jobs), and busy-waiting pool threads take CPU from them
 * without speeding up the model. Measured here (bench/evalBench.ts, 2 shared vCPUs, 512² conv net):
 * bare session.run 34 vs 46 ms CPU per image at the same speed, full evaluation 94 vs 109 ms/image.
 */
export function sessionThreads(threads?: number, allowSpinning = false): SessionThreads {
  // One core is left to decoding, pre- and post-processing, which overlap the model: on 2 cores
  // (bench/evalBench.ts, quiet machine) a full evaluation ran at 35.3 images/s with 1 intra-op
  // thread against 34.8 with 2 — the model alone is faster with 2, the whole evaluation is not.
  const intra = threads ?? Math.max(1, availableParallelism() - 1);
  if (!Number.isInteger(intra) || intra < 1 || intra > 256) throw badInput(`threads must be an integer from 1 to 256, got ${threads}`, "threads");
  return { intraOpNumThreads: intra, interOpNumThreads: 1, executionMode: "sequential", allowSpinning };
}

/**
 * A session on the calling thread (the benchmark's bare loop). evaluateModel uses SessionThread
 * instead: onnxruntime-node's session.run blocks the thread that calls it.
 *
 * `bytes`: the model itself (a merge search's candidate, merged in memory), which onnxruntime
 * parses as it would the file; `modelPath` then only names it in messages.
 */
export async function openSession(modelPath: string, threads: SessionThreads, bytes?: Uint8Array): Promise<ort.InferenceSession> {
  try {
    const { allowSpinning, ...counts } = threads;
    const settings: ort.InferenceSession.SessionOptions = {
      ...counts,
      graphOptimizationLevel: "all",
      // No memory pattern: onnxruntime spends a new session's first runs planning it and growing
      // into it, which no steady run paid back here. On the 512² benchmark net, in a fresh
      // inference thread, the second run took 126–183 ms with it and 29–111 without, the steady
      // runs 28–35 ms either way; a merge search's candidate (a few dozen runs) lost most. The
      // outputs are the same bits either way.
      enableMemPattern: false,
      extra: { session: { intra_op: { allow_spinning: allowSpinning ? "1" : "0" } } },
    };
    return await (bytes ? ort.InferenceSession.create(bytes, settings) : ort.InferenceSession.create(modelPath, settings));
  } catch (e) {
    const message = (e as Error).message;
    if (isResourceExhaustion(message)) throw new TransientRuntimeError(`onnxruntime could not open model ${modelPath} for lack of resources: ${message}`, { cause: e });
    throw badInput(`model ${modelPath} cannot be loaded by onnxruntime: ${message}`, "modelPath", { file: modelPath });
  }
}
