import { parentPort } from "worker_threads";
import * as ort from "onnxruntime-node";
import type { FromThread, OutputValue, ToThread, ValueMetadata } from "./inferenceProtocol";
import { openSession } from "./openSession";
import { isResourceExhaustion, TransientRuntimeError } from "./runtimeFailure";

/**
 * Owns the evaluation's onnxruntime session. onnxruntime-node's `session.run` returns a promise
 * but computes synchronously on the calling thread (1.30: `setImmediate` → native `run`), so run
 * on the main thread it would block decoding, preprocessing and scoring; here it blocks only this
 * thread. Requests queue in the port while a run executes, so the next batch starts at once.
 * After `release` the thread waits for another `open` (SessionThread keeps one idle thread).
 */
const port = parentPort!;
let session: ort.InferenceSession | null = null;

const send = (message: FromThread, transfer: ArrayBuffer[] = []) => {
  try {
    port.postMessage(message, transfer);
  } catch {
    port.postMessage(message); // buffers onnxruntime does not let go of are copied instead
  }
};

port.on("message", async (message: ToThread) => {
  try {
    if (message.type === "open") {
      reuseRejected = false;
      session = await openSession(message.modelPath, message.threads);
      send({
        type: "ready",
        inputNames: [...session.inputNames],
        outputNames: [...session.outputNames],
        inputMetadata: session.inputMetadata.map(plainMetadata),
        outputMetadata: session.outputMetadata.map(plainMetadata),
      });
    } else if (message.type === "run") {
      const feed = new ort.Tensor("float32", message.data, message.dims);
      const result = await runReusing(session!, { [message.inputName]: feed }, message.fetches, message.reuse);
      const outputs: Record<string, OutputValue> = {};
      const transfer: ArrayBuffer[] = [message.data.buffer as ArrayBuffer];
      for (const name of message.fetches) {
        const t = result[name] as ort.Tensor;
        outputs[name] = { type: t.type, dims: [...t.dims], data: t.data as OutputValue["data"] };
        if (t.data instanceof Object && "buffer" in t.data && t.data.buffer instanceof ArrayBuffer) transfer.push(t.data.buffer);
      }
      send({ type: "result", id: message.id, outputs, input: message.data }, transfer);
    } else if (message.type === "release") {
      await session?.release();
      session = null;
      send({ type: "released" });
    } else {
      port.close();
    }
  } catch (e) {
    const text = (e as Error).message;
    send({ type: "error", id: message.type === "run" ? message.id : null, message: text, transient: e instanceof TransientRuntimeError || isResourceExhaustion(text) });
  }
});

/**
 * session.run with the outputs written into `reuse`'s buffers, which are the ones sent back: the
 * main thread then receives no new 20 MB logits buffer per image to collect. (onnxruntime-node
 * 1.30 fills pre-allocated output tensors passed as fetches, but returns copies of them: those
 * are dropped here.) Outputs whose shape depends on the image (a model with data-dependent output
 * dims) may not fit: onnxruntime rejects the run, which is then repeated with fresh outputs, whose
 * error (if any) is the one reported; after one such rejection this session takes no more recycled
 * buffers, so such a model is not run twice per batch.
 */
let reuseRejected = false;
async function runReusing(s: ort.InferenceSession, feeds: Record<string, ort.Tensor>, fetches: string[], reuse: Record<string, OutputValue> | undefined): Promise<Record<string, ort.Tensor>> {
  if (!reuse || reuseRejected || !fetches.every((name) => reuse[name])) return (await s.run(feeds, fetches)) as Record<string, ort.Tensor>;
  const preallocated: Record<string, ort.Tensor> = {};
  for (const name of fetches) {
    const { type, data, dims } = reuse[name];
    preallocated[name] = new ort.Tensor(type as "float32", data as Float32Array, dims);
  }
  try {
    await s.run(feeds, preallocated);
    return preallocated;
  } catch {
    reuseRejected = true;
    return (await s.run(feeds, fetches)) as Record<string, ort.Tensor>;
  }
}

function plainMetadata(m: ort.InferenceSession.ValueMetadata): ValueMetadata {
  return m.isTensor ? { name: m.name, isTensor: true, type: m.type, shape: [...m.shape] } : { name: m.name, isTensor: false };
}
