import { availableParallelism } from "os";
import * as ort from "onnxruntime-node";
import { badInput } from "../core/errors";

export interface SessionThreads {
  intraOpNumThreads: number;
  interOpNumThreads: number;
  executionMode: "sequential" | "parallel";
}

/**
 * Thread settings of an evaluation session. Segmentation nets are a chain of large convolutions,
 * so all parallelism goes to intra-op threads (one per core by default: onnxruntime's pool plus
 * the calling thread) and the graph runs sequentially (`interOpNumThreads` 1; with `executionMode`
 * sequential onnxruntime creates no inter-op pool).
 */
export function sessionThreads(threads?: number): SessionThreads {
  const intra = threads ?? availableParallelism();
  if (!Number.isInteger(intra) || intra < 1 || intra > 256) throw badInput(`threads must be an integer from 1 to 256, got ${threads}`, "threads");
  return { intraOpNumThreads: intra, interOpNumThreads: 1, executionMode: "sequential" };
}

/**
 * A session on the calling thread (the benchmark's bare loop). evaluateModel uses WorkerSession
 * instead: onnxruntime-node's session.run blocks the thread that calls it.
 */
export async function openSession(modelPath: string, threads: SessionThreads): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(modelPath, { ...threads, graphOptimizationLevel: "all" });
  } catch (e) {
    throw badInput(`model ${modelPath} cannot be loaded by onnxruntime: ${(e as Error).message}`, "modelPath", { file: modelPath });
  }
}
