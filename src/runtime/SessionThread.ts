import * as fs from "fs";
import * as path from "path";
import { Worker } from "worker_threads";
import { badInput, invariant } from "../core/errors";
import { KeptForReuse } from "../core/keptForReuse";
import type { FromThread, OutputValue, ToThread, ValueMetadata } from "./inferenceProtocol";
import type { SessionThreads } from "./openSession";
import { TransientRuntimeError } from "./runtimeFailure";

/**
 * An onnxruntime session living in its own thread (see inferenceThread.ts for why), with
 * the metadata of the model and a `run` that resolves when the thread posts the outputs back.
 * Input buffers are transferred, not copied; so are output buffers when onnxruntime allows it.
 */
export class SessionThread {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (o: Record<string, OutputValue>) => void; reject: (e: Error) => void }>();
  private readonly exited: Promise<void>;
  private failure: Error | null = null;
  /** Input buffers the thread handed back, by length, for the next batches (no 3 MB allocation per image). */
  private readonly spare = new Map<number, Float32Array[]>();
  /** Output buffers handed back by `recycle`, by the input dims they were produced for, for the next runs on such inputs. */
  private readonly spareOutputs = new Map<string, Array<Record<string, OutputValue>>>();

  private constructor(
    private readonly thread: Worker,
    readonly modelPath: string,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
    readonly inputMetadata: readonly ValueMetadata[],
    readonly outputMetadata: readonly ValueMetadata[],
  ) {
    this.exited = new Promise((resolve) => (this.onExit = resolve));
    const fail = (e: Error) => {
      this.failure = e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    this.listeners = {
      message: (m: FromThread) => {
        if (m.type === "ready") return;
        if (m.type === "released") return this.onReleased?.();
        const id = m.id;
        invariant(id !== null, "thread replies to runs carry their id");
        const p = this.pending.get(id);
        invariant(p, `a pending run ${id}`);
        this.pending.delete(id);
        if (m.type === "result") {
          const list = this.spare.get(m.input.length) ?? [];
          if (list.length < 4) list.push(m.input);
          this.spare.set(m.input.length, list);
          p.resolve(m.outputs);
        } else p.reject(m.transient ? new TransientRuntimeError(m.message) : new Error(m.message));
      },
      // The thread itself failing (its heap exhausted, a native crash) says nothing about the model.
      error: (e: Error) => fail(new TransientRuntimeError(`the inference thread failed: ${e.message}`, { cause: e })),
      exit: (code: number) => {
        fail(new TransientRuntimeError(`the inference thread exited (code ${code})`));
        this.onExit();
      },
    };
    thread.on("message", this.listeners.message);
    thread.on("error", this.listeners.error);
    thread.on("exit", this.listeners.exit);
  }

  private onExit: () => void = () => undefined;
  private onReleased: (() => void) | null = null;
  private readonly listeners: { message: (m: FromThread) => void; error: (e: Error) => void; exit: (code: number) => void };

  /** The inference thread's id (a thread kept idle between sessions serves the next one). */
  get threadId(): number {
    return this.thread.threadId;
  }

  /**
   * Opens `modelPath` in a new thread; a file onnxruntime cannot load is the caller's mistake,
   * named; a lack of resources or a thread that fails to start is a TransientRuntimeError.
   */
  static async open(modelPath: string, threads: SessionThreads): Promise<SessionThread> {
    const thread = takeIdleThread() ?? startThread();
    const ready = await new Promise<Extract<FromThread, { type: "ready" }>>((resolve, reject) => {
      const onMessage = (m: FromThread) => {
        done();
        if (m.type === "ready") resolve(m);
        else if (m.type === "error" && m.transient) reject(new TransientRuntimeError(m.message));
        else reject(new Error(m.type === "error" ? m.message : "unexpected message"));
      };
      const onError = (e: Error) => {
        done();
        reject(new TransientRuntimeError(`the inference thread failed to start: ${e.message}`, { cause: e }));
      };
      const onExit = (code: number) => {
        done();
        reject(new TransientRuntimeError(`the inference thread exited (code ${code}) before opening ${modelPath}`));
      };
      const done = () => {
        thread.off("message", onMessage);
        thread.off("error", onError);
        thread.off("exit", onExit);
      };
      thread.on("message", onMessage);
      thread.on("error", onError);
      thread.on("exit", onExit);
      thread.postMessage({ type: "open", modelPath, threads } satisfies ToThread);
    }).catch(async (e: Error) => {
      await thread.terminate();
      if (e instanceof TransientRuntimeError) throw e;
      const prefix = `model ${modelPath} cannot be loaded by onnxruntime`;
      throw badInput(e.message.startsWith(prefix) ? e.message : `${prefix}: ${e.message}`, "modelPath", { file: modelPath });
    });
    return new SessionThread(thread, modelPath, ready.inputNames, ready.outputNames, ready.inputMetadata, ready.outputMetadata);
  }

  /** A zeroed input buffer of `length` floats, reused when one is spare. */
  inputBuffer(length: number): Float32Array {
    const reused = this.spare.get(length)?.pop();
    return reused ? reused.fill(0) : new Float32Array(length);
  }

  /**
   * Runs one batch; `data` is transferred to the thread (unusable here afterwards), and so are the
   * buffers of outputs recycled from a run on inputs of the same dims, which onnxruntime writes into.
   */
  run(inputName: string, data: Float32Array, dims: number[], fetches: string[]): Promise<Record<string, OutputValue>> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const reuse = this.spareOutputs.get(dims.join(","))?.pop();
    const transfer = [data.buffer as ArrayBuffer];
    if (reuse) for (const name of fetches) if (reuse[name]) transfer.push(reuse[name].data.buffer as ArrayBuffer);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.thread.postMessage({ type: "run", id, inputName, data, dims, fetches, ...(reuse ? { reuse } : {}) } satisfies ToThread, transfer);
    });
  }

  /**
   * Hands a run's outputs back for a later run on inputs of `dims` (the dims of the run that
   * produced them) to write into; the caller must hold no view of them any more. Only outputs
   * whose typed array spans its whole buffer are kept (a buffer is transferred whole), at most
   * two sets per input shape: the runs in flight at once.
   */
  recycle(dims: number[], outputs: Record<string, OutputValue>): void {
    const whole = Object.values(outputs).every((o) => o.data.byteOffset === 0 && o.data.byteLength === o.data.buffer.byteLength);
    const buffers = new Set(Object.values(outputs).map((o) => o.data.buffer));
    if (!whole || buffers.size !== Object.keys(outputs).length) return;
    const key = dims.join(",");
    const list = this.spareOutputs.get(key) ?? [];
    if (list.length < 2) list.push(outputs);
    this.spareOutputs.set(key, list);
  }

  /**
   * Releases the session after the runs already sent. The thread is then kept for the next
   * session this process opens (see keepIdleThread); a thread that failed is not.
   */
  async release(): Promise<void> {
    if (this.failure) {
      await this.thread.terminate();
      return;
    }
    const released = new Promise<boolean>((resolve) => (this.onReleased = () => resolve(true)));
    this.thread.postMessage({ type: "release" } satisfies ToThread);
    const ok = await Promise.race([released, this.exited.then(() => false)]);
    this.thread.off("message", this.listeners.message);
    this.thread.off("error", this.listeners.error);
    this.thread.off("exit", this.listeners.exit);
    if (ok) keepIdleThread(this.thread);
    else await this.thread.terminate();
  }
}

/**
 * How long a released inference thread waits for the next session. Starting one and loading
 * onnxruntime in it took ~50–60 ms here, as much as a few images; a job runner evaluating model
 * after model opens its next session within this. An idle thread does not keep the process alive.
 */
const IDLE_THREAD_MS = 30_000;
/** This JavaScript thread's idle inference thread, with the listener that forgets it should it end. */
const idle = new KeptForReuse<{ thread: Worker; onGone: () => void }>(IDLE_THREAD_MS, ({ thread }) => void thread.terminate());

function keepIdleThread(thread: Worker): void {
  const kept = { thread, onGone: () => idle.forget(kept) };
  thread.once("exit", kept.onGone);
  thread.once("error", kept.onGone);
  thread.unref();
  idle.keep(kept); // one kept is enough: a second is terminated
}

function takeIdleThread(): Worker | null {
  const kept = idle.take();
  if (!kept) return null;
  kept.thread.off("exit", kept.onGone);
  kept.thread.off("error", kept.onGone);
  kept.thread.ref();
  return kept.thread;
}

function startThread(): Worker {
  const compiled = path.join(__dirname, "inferenceThread.js");
  if (fs.existsSync(compiled)) return new Worker(compiled);
  // From TypeScript sources (tests, bench): compile on the fly with the project's swc settings.
  const hook = path.resolve(__dirname, "..", "..", "scripts", "ts-hook.js");
  const entry = path.join(__dirname, "inferenceThread.ts");
  return new Worker(`require(${JSON.stringify(hook)}); require(${JSON.stringify(entry)});`, { eval: true });
}
