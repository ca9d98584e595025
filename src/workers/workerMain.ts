import { parentPort } from "node:worker_threads";
import { DomainError } from "../core/errors";
import { taskHandlers } from "./tasks";
import type { WorkerMessage } from "./threadPool";

/** A worker thread: runs one task at a time and answers with a result or an error value. */
const port = parentPort;
if (!port) throw new Error("workerMain must run in a worker thread");

port.on("message", async (message: { task: keyof typeof taskHandlers; payload: unknown }) => {
  const send = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
  try {
    const handler = taskHandlers[message.task] as (payload: unknown, progress: (p: unknown) => void) => Promise<unknown>;
    if (!handler) throw new Error(`no handler for task ${message.task}`);
    const value = await handler(message.payload, (p) => send({ type: "progress", value: p }));
    send({ type: "result", value });
  } catch (error) {
    const e = error as Error & Partial<DomainError>;
    send({
      type: "error",
      error: { name: e.name ?? "Error", message: e.message ?? String(error), code: e instanceof DomainError ? e.code : undefined, field: e.field, details: e.details, stack: e.stack },
    });
  }
});
