import { parentPort } from "node:worker_threads";
import { DomainError } from "../core/errors";
import { threadJobs } from "./threadJobs";
import type { ThreadMessage, ToPoolThread } from "./threadPool";

/**
 * A pool thread: runs one thread job at a time and answers with a result or an error value. A
 * "cancel" aborts the signal the running job was given; jobs that hold native work (onnxruntime,
 * sharp) stop at their next check and answer, since such a thread must never be terminated.
 */
const port = parentPort;
if (!port) throw new Error("threadMain must run in a worker_threads thread");

let running: AbortController | null = null;

port.on("message", async (message: ToPoolThread) => {
  if (message.type === "cancel") {
    running?.abort(new DomainError("CANCELLED", "cancelled"));
    return;
  }
  const send = (m: ThreadMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
  const controller = new AbortController();
  running = controller;
  try {
    const handler = threadJobs[message.name] as (payload: unknown, progress: (p: unknown) => void, signal: AbortSignal) => Promise<unknown>;
    if (!handler) throw new Error(`no thread job named ${message.name}`);
    const value = await handler(message.payload, (p) => send({ type: "progress", value: p }), controller.signal);
    send({ type: "result", value });
  } catch (error) {
    const e = error as Error & Partial<DomainError>;
    send({
      type: "error",
      error: { name: e.name ?? "Error", message: e.message ?? String(error), code: e instanceof DomainError ? e.code : undefined, field: e.field, details: e.details, stack: e.stack },
    });
  } finally {
    if (running === controller) running = null;
  }
});
