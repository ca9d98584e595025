import { invariant } from "../../errors";
import type { DType } from "../../structure/types";
import { DTYPE_BYTES } from "../../structure/types";
import { decodeToFloat32 } from "../decodeFloats";
import type { LayerwiseAccumulator } from "../layerwiseAccumulator";
import { MERGE_KERNELS_WASM_BASE64 } from "./mergeKernelsWasm";

/** The part of the WebAssembly JS API used here (the project's TypeScript lib has no DOM types). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule) => { exports: unknown };
}
type WasmModule = { readonly __brand: "WebAssembly.Module" };
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

interface Kernels {
  memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  accF32(acc: number, x: number, n: number, w: number, first: number): void;
  accF16(acc: number, x: number, n: number, w: number, first: number): void;
  accBF16(acc: number, x: number, n: number, w: number, first: number): void;
  anyNonFinite32(p: number, n: number): number;
  encodeF16(src: number, dst: number, n: number): number;
  encodeBF16(src: number, dst: number, n: number): number;
}

let compiled: WasmModule | null | undefined;

/** Compiled once per thread; null when the runtime lacks WebAssembly SIMD. */
function kernelsModule(): WasmModule | null {
  if (compiled === undefined) {
    const bytes = Buffer.from(MERGE_KERNELS_WASM_BASE64, "base64");
    compiled = wasm && wasm.validate(bytes) ? new wasm.Module(bytes) : null;
  }
  return compiled;
}

/** Chunks are padded to a multiple of 8 elements (the kernels step by 4; 8 keeps 16-bit rows 16-byte aligned). */
const LANES = 8;
const roundUp = (n: number) => Math.ceil(n / LANES) * LANES;
const PAGE = 65536;

/**
 * LayerwiseAccumulator on the kernels of mergeKernels.wat: 4 float32 lanes per instruction, the
 * same bits as the scalar kernels (see the .wat). Its WebAssembly memory holds two read slots
 * (so file reads land where the kernels read them), a staging area for bytes that arrive in
 * other buffers, the float32 accumulator and the 16-bit output: about 18 MiB at the default
 * chunk of 2^20 elements, allocated once per merge and never grown (growing would detach the
 * buffers reads are landing in).
 *
 * Elements past the chunk up to the next multiple of 8 are zeroed before each call, so the
 * padding lanes compute 0 and never raise the non-finite flag.
 */
export function simdLayerwiseAccumulator(capacity: number): LayerwiseAccumulator | null {
  const module = kernelsModule();
  if (!module || !wasm) return null;
  const k = new wasm.Instance(module).exports as Kernels;
  const wide = roundUp(capacity) * 4;
  const layout = { read0: 0, read1: wide, staging: 2 * wide, acc: 3 * wide, out16: 4 * wide };
  const bytesNeeded = 4 * wide + wide / 2;
  const pages = Math.ceil(bytesNeeded / PAGE) - k.memory.buffer.byteLength / PAGE;
  if (pages > 0) k.memory.grow(pages);
  const memory = new Uint8Array(k.memory.buffer);
  let count = 0;

  /** Places `bytes` (count elements of `width`) in WebAssembly memory; returns its offset. */
  const place = (bytes: Uint8Array, width: number): number => {
    let at: number;
    if (bytes.buffer === k.memory.buffer) at = bytes.byteOffset;
    else {
      memory.set(bytes, layout.staging);
      at = layout.staging;
    }
    memory.fill(0, at + count * width, at + roundUp(count) * width);
    return at;
  };

  return {
    capacity,
    kind: "simd",
    readBuffer(slot, byteLength) {
      // Only F32 / F16 / BF16 chunks fit a slot; wider data (F64) is read elsewhere and decoded.
      if (byteLength > wide) return new Uint8Array(byteLength);
      const start = slot === 0 ? layout.read0 : layout.read1;
      return memory.subarray(start, start + byteLength);
    },
    add(bytes, dtype, weight, first) {
      const n = bytes.byteLength / DTYPE_BYTES[dtype];
      if (first) count = n;
      invariant(n === count && n <= capacity, `accumulator: ${n} elements where the chunk has ${count} (capacity ${capacity})`);
      const padded = roundUp(n);
      const flag = first ? 1 : 0;
      if (dtype === "F16") k.accF16(layout.acc, place(bytes, 2), padded, weight, flag);
      else if (dtype === "BF16") k.accBF16(layout.acc, place(bytes, 2), padded, weight, flag);
      else {
        const f32 = dtype === "F32" ? bytes : (() => {
          const values = decodeToFloat32(bytes, dtype);
          return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
        })();
        k.accF32(layout.acc, place(f32, 4), padded, weight, flag);
      }
    },
    finish(out, dtype) {
      invariant(out.byteLength === count * DTYPE_BYTES[dtype], `accumulator: ${out.byteLength} output bytes for ${count} ${dtype} elements`);
      const padded = roundUp(count);
      if (dtype === "F32") {
        out.set(memory.subarray(layout.acc, layout.acc + count * 4));
        return k.anyNonFinite32(layout.acc, padded) !== 0;
      }
      invariant(dtype === "F16" || dtype === "BF16", `accumulator: cannot encode ${dtype}`);
      const bad = dtype === "F16" ? k.encodeF16(layout.acc, layout.out16, padded) : k.encodeBF16(layout.acc, layout.out16, padded);
      out.set(memory.subarray(layout.out16, layout.out16 + count * 2));
      return bad !== 0;
    },
  };
}
