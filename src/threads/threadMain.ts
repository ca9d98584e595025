import { parentPort } from "node:worker_threads";
import { DomainError } from "../core/errors";
import { threadJobs } from "./threadJobs";
import type { ThreadMessage } from "./threadPool";

/** A pool thread: runs one thread job at a time and answers with a result or an error value. */
const port = parentPort;
if (!port) throw new Error("threadMain must run in a worker_threads thread");

port.on("message", async (message: { name: keyof typeof threadJobs; payload: unknown }) => {
  const send = (m: ThreadMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
  try {
    const handler = threadJobs[message.name] as (payload: unknown, progress: (p: unknown) => void) => Promise<unknown>;
    if (!handler) throw new Error(`no thread job named ${message.name}`);
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
