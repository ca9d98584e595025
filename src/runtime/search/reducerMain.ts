import { parentPort } from "node:worker_threads";
import { reduceOutput, type OutputReduction } from "./outputReduction";
import type { SemanticOutput } from "./outputReduction";

/** The reducer thread of a candidate thread: reduces outputs to statistics while the session runs the next image. */
const port = parentPort;
if (!port) throw new Error("reducerMain must run in a worker_threads thread");

port.on("message", (m: { id: number; out: SemanticOutput; reduction: OutputReduction }) => {
  try {
    const stats = reduceOutput(m.out, m.reduction);
    // The output's memory is not sent back: it is garbage here while young, where a buffer
    // passed back and forth between threads ages into the old generation on both.
    port.postMessage({ id: m.id, stats }, [stats.buffer as ArrayBuffer]);
  } catch (error) {
    port.postMessage({ id: m.id, error: (error as Error).message ?? String(error) });
  }
});
