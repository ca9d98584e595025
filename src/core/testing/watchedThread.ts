import * as path from "node:path";
import { Worker } from "node:worker_threads";

/**
 * Runs `exportName` of the TypeScript module `modulePath` in a thread of its own, watched: the
 * function reports progress (e.g. before each fuzzed parse) through its second argument, and if
 * no report arrives for `stallMs` the thread is terminated and the promise rejects naming the
 * last report. A synchronous loop in the main thread could not be interrupted; a hang here fails
 * the test with the input that caused it instead of stalling the run. For tests only.
 */
export function runWatched<T>(modulePath: string, exportName: string, args: unknown, stallMs: number): Promise<T> {
  const hook = path.resolve(__dirname, "..", "..", "..", "scripts", "ts-hook.js");
  const code = `
    require(${JSON.stringify(hook)});
    const { parentPort, workerData } = require("node:worker_threads");
    const m = require(workerData.modulePath);
    Promise.resolve()
      .then(() => m[workerData.exportName](workerData.args, (label) => parentPort.postMessage({ type: "progress", label })))
      .then((result) => parentPort.postMessage({ type: "done", result }), (error) => parentPort.postMessage({ type: "error", message: String((error && error.stack) || error) }));
  `;
  return new Promise<T>((resolve, reject) => {
    const thread = new Worker(code, { eval: true, workerData: { modulePath, exportName, args } });
    let last = "(before the first report)";
    let settled = false;
    const finish = (action: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void thread.terminate();
      action();
    };
    const arm = () => setTimeout(() => finish(() => reject(new Error(`no progress for ${stallMs} ms after: ${last}`))), stallMs);
    let timer = arm();
    thread.on("message", (m: { type: string; label?: string; result?: T; message?: string }) => {
      if (m.type === "progress") {
        last = m.label!;
        clearTimeout(timer);
        timer = arm();
      } else if (m.type === "done") finish(() => resolve(m.result as T));
      else finish(() => reject(new Error(m.message)));
    });
    thread.on("error", (error) => finish(() => reject(error)));
    thread.on("exit", (code) => finish(() => reject(new Error(`thread exited with code ${code} after: ${last}`))));
  });
}
