import { parentPort } from "node:worker_threads";
import { reduceOutput, type OutputReduction } from "./outputReduction";
import type { SemanticOutput } from "./outputReduction";

/** The reducer thread of a candidate thread: reduces outputs to statistics while the session runs the next image. */
const port = parentPort;
if (!port) throw new Error("reducerMain must run in a worker_threads thread");

port.on("message", (m: { id: number; out: SemanticOutput; reduction: OutputReduction }) => {
  try {
    const stats = reduceOutput(m.out, m.reduction);
    // The output's memory goes back with the statistics (the candidate's thread writes a later
    // output into it); a shared buffer stays where it is.
    const buffer = m.out.map.data.buffer;
    const owned = Object.prototype.toString.call(buffer) === "[object ArrayBuffer]" ? (buffer as ArrayBuffer) : null;
    port.postMessage({ id: m.id, stats, buffer: owned ?? undefined }, owned ? [stats.buffer as ArrayBuffer, owned] : [stats.buffer as ArrayBuffer]);
  } catch (error) {
    port.postMessage({ id: m.id, error: (error as Error).message ?? String(error) });
  }
});
