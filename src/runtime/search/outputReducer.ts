import * as fs from "node:fs";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import type { ImageStats } from "../../core/search";
import type { OutputReduction } from "./outputReduction";
import type { SemanticOutput } from "./outputReduction";

/**
 * Reduces a candidate's outputs on a second thread, so the candidate's thread goes straight on
 * to the next image's session.run (which blocks the thread that calls it): onnxruntime keeps
 * one core busy while softmax, entropy, resizing and argmax take the other. One reducer per
 * candidate thread, started on first use and kept (it does not hold the process open).
 */
export class OutputReducer {
  private static shared: OutputReducer | null = null;

  static get(): OutputReducer {
    OutputReducer.shared ??= new OutputReducer();
    return OutputReducer.shared;
  }

  /** Stops the shared reducer (tests; a candidate thread's reducer otherwise ends with it). */
  static async close(): Promise<void> {
    const r = OutputReducer.shared;
    OutputReducer.shared = null;
    await r?.worker.terminate();
  }

  private readonly worker: Worker;
  private next = 0;
  private readonly waiting = new Map<number, { resolve: (s: ImageStats) => void; reject: (e: Error) => void }>();

  private constructor() {
    this.worker = startReducer();
    this.worker.unref();
    this.worker.on("message", (m: { id: number; stats?: ImageStats; error?: string }) => {
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.error !== undefined) w?.reject(new Error(m.error));
      else w?.resolve(m.stats!);
    });
    const fail = (error: Error) => {
      if (OutputReducer.shared === this) OutputReducer.shared = null;
      for (const w of this.waiting.values()) w.reject(error);
      this.waiting.clear();
    };
    this.worker.on("error", fail);
    this.worker.on("exit", (code) => fail(new Error(`the output reducer thread exited (${code})`)));
  }

  /**
   * The output's statistics; its buffer is handed to the reducer (the caller must not read it
   * after), which lets go of it once reduced.
   */
  reduce(out: SemanticOutput, reduction: OutputReduction): Promise<ImageStats> {
    const id = this.next++;
    const buffer = out.map.data.buffer;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      const message = { id, out, reduction };
      try {
        // (A SharedArrayBuffer is shared as it is; tag check: instanceof fails across realms.)
        this.worker.postMessage(message, Object.prototype.toString.call(buffer) === "[object ArrayBuffer]" ? [buffer as ArrayBuffer] : []);
      } catch {
        // A buffer onnxruntime does not let go of is copied instead.
        this.worker.postMessage(message);
      }
    });
  }
}

function startReducer(): Worker {
  const compiled = path.join(__dirname, "reducerMain.js");
  if (fs.existsSync(compiled)) return new Worker(compiled);
  // From TypeScript sources (tests, benchmarks): compiled on the fly as the pool's threads are.
  const hook = path.resolve(__dirname, "..", "..", "..", "scripts", "ts-hook.js");
  return new Worker(`require(${JSON.stringify(hook)}); require(${JSON.stringify(path.join(__dirname, "reducerMain.ts"))});`, { eval: true });
}
