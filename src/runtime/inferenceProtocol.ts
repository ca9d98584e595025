import type { SessionThreads } from "./openSession";

/** Messages between evaluateModel and its inference thread (inferenceThread.ts). */

export interface OutputValue {
  type: string;
  dims: number[];
  data: Float32Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Int16Array | Uint16Array | Uint32Array | BigUint64Array;
}

export type ValueMetadata = { name: string; isTensor: false } | { name: string; isTensor: true; type: string; shape: Array<number | string> };

export type ToThread =
  | { type: "open"; modelPath: string; threads: SessionThreads }
  /**
   * `reuse`: output buffers of an earlier run (same input dims) handed back, by output name, with
   * the type and dims they had; onnxruntime writes into them instead of allocating new ones.
   */
  | { type: "run"; id: number; inputName: string; data: Float32Array; dims: number[]; fetches: string[]; reuse?: Record<string, OutputValue> }
  /** Releases the session; the thread answers `released` and waits for the next `open`. */
  | { type: "release" }
  | { type: "exit" };

export type FromThread =
  | { type: "ready"; inputNames: string[]; outputNames: string[]; inputMetadata: ValueMetadata[]; outputMetadata: ValueMetadata[] }
  /** `input` is the run's input buffer handed back for reuse. */
  | { type: "result"; id: number; outputs: Record<string, OutputValue>; input: Float32Array }
  | { type: "released" }
  /** `transient`: a resource ran out (see runtimeFailure.ts), as opposed to a fault of the model or input. */
  | { type: "error"; id: number | null; message: string; transient: boolean };
