import { invariant } from "../../errors";
import type { DType } from "../../structure/types";
import { DTYPE_BYTES } from "../../structure/types";
import { decodeToFloat32 } from "../decodeFloats";
import { OUTPUT_SLOTS, READ_SLOTS, mixByAdding, type LayerwiseAccumulator, type MixInput } from "../layerwiseAccumulator";
import { instantiateWasm } from "../../wasmModules";
import { MERGE_KERNELS_WASM_BASE64 } from "./mergeKernelsWasm";

interface Kernels {
  memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  accF32(acc: number, x: number, n: number, w: number, first: number): void;
  /** `w112` is the weight times 2^112; returns 1 when some input is Inf or NaN. */
  accF16(acc: number, x: number, n: number, w112: number, first: number): number;
  accBF16(acc: number, x: number, n: number, w: number, first: number): void;
  anyNonFinite32(p: number, n: number): number;
  encodeF16(src: number, dst: number, n: number): number;
  encodeBF16(src: number, dst: number, n: number): number;
  /** dst = encoded Σ w·x over `count` records of (i32 pointer, f32 weight) at `list`; 1 when the chunk is to be refused. */
  mixF16(dst: number, list: number, count: number, n: number): number;
  mixF32(dst: number, list: number, count: number, n: number): number;
}

/** Chunks are padded to a multiple of 16 elements (mixF16 steps by 16, the others by 4 or 8; 16-bit rows stay 16-byte aligned). */
const LANES = 16;
const roundUp = (n: number) => Math.ceil(n / LANES) * LANES;
const PAGE = 65536;
/** The memory's maximum in pages, as mergeKernels.wat declares it (4 GiB). */
const MAX_PAGES = 65536;

/** Most inputs `mixInSlot` takes in one pass (more are added one at a time). */
const MIX_INPUTS = 16;

/**
 * LayerwiseAccumulator on the kernels of mergeKernels.wat: 4 float32 lanes per instruction, the
 * same bits as the scalar kernels (see the .wat). Its WebAssembly memory holds the read slots
 * (so file reads land where the kernels read them), a staging area for bytes that arrive in
 * other buffers, and per output slot a float32 accumulator and a 16-bit output: about 22 MiB at
 * the default chunk of 2^17 elements, allocated once and never grown (a grown memory would be a
 * new buffer, while reads are landing in the old one and writes reading from it). The memory is
 * shared (a SharedArrayBuffer), so the file sink's hashing thread hashes the outputs where they
 * lie (core/formats/backgroundSha256.ts).
 *
 * Elements past the chunk up to the next multiple of 16 are zeroed before each call, so the
 * padding lanes compute 0 and never raise the non-finite flag.
 */
export function simdLayerwiseAccumulator(capacity: number): LayerwiseAccumulator | null {
  const k = instantiateWasm(MERGE_KERNELS_WASM_BASE64) as Kernels | null;
  if (!k) return null;
  const wide = roundUp(capacity) * 4;
  const half = wide / 2;
  const staging = READ_SLOTS * wide;
  // The input records of mixInSlot (pointer and weight), after the output slots.
  const listAt = (READ_SLOTS + 1) * wide + OUTPUT_SLOTS * wide + OUTPUT_SLOTS * half;
  const accAt = (slot: number) => (READ_SLOTS + 1) * wide + slot * wide;
  const out16At = (slot: number) => (READ_SLOTS + 1) * wide + OUTPUT_SLOTS * wide + slot * half;
  const bytesNeeded = listAt + MIX_INPUTS * 8;
  // The memory is shared, so its maximum is fixed in the module; a chunk too large for it is left
  // to the scalar accumulator.
  if (Math.ceil(bytesNeeded / PAGE) > MAX_PAGES) return null;
  const pages = Math.ceil(bytesNeeded / PAGE) - k.memory.buffer.byteLength / PAGE;
  if (pages > 0) k.memory.grow(pages);
  const buffer = k.memory.buffer;
  const memory = new Uint8Array(buffer);
  const list = new DataView(buffer, listAt, MIX_INPUTS * 8);
  let count = 0;
  let slot = 0;
  /** Set when a kernel saw an Inf or NaN input in the current chunk (its lanes are then not exact). */
  let inputNonFinite = false;

  /** Places `bytes` (count elements of `width`) in WebAssembly memory; returns its offset. */
  const place = (bytes: Uint8Array, width: number): number => {
    let at: number;
    if (bytes.buffer === buffer) at = bytes.byteOffset;
    else {
      memory.set(bytes, staging);
      at = staging;
    }
    memory.fill(0, at + count * width, at + roundUp(count) * width);
    return at;
  };

  /** Encodes the current chunk inside the slot; returns where its bytes are and the flag. */
  const encode = (dtype: DType): { at: number; nonFinite: boolean } => {
    const padded = roundUp(count);
    const acc = accAt(slot);
    if (dtype === "F32") return { at: acc, nonFinite: k.anyNonFinite32(acc, padded) !== 0 || inputNonFinite };
    invariant(dtype === "F16" || dtype === "BF16", `accumulator: cannot encode ${dtype}`);
    const out = out16At(slot);
    const bad = dtype === "F16" ? k.encodeF16(acc, out, padded) : k.encodeBF16(acc, out, padded);
    return { at: out, nonFinite: bad !== 0 || inputNonFinite };
  };

  return {
    capacity,
    kind: "simd",
    outputSlots: OUTPUT_SLOTS,
    readBuffer(readSlot, byteLength) {
      // Only F32 / F16 / BF16 chunks fit a slot; wider data (F64) is read elsewhere and decoded.
      if (byteLength > wide) return new Uint8Array(byteLength);
      invariant(readSlot >= 0 && readSlot < READ_SLOTS, `accumulator: no read slot ${readSlot}`);
      const start = readSlot * wide;
      return memory.subarray(start, start + byteLength);
    },
    useSlot(next) {
      invariant(next >= 0 && next < OUTPUT_SLOTS, `accumulator: no output slot ${next}`);
      slot = next;
    },
    add(bytes, dtype, weight, first) {
      const n = bytes.byteLength / DTYPE_BYTES[dtype];
      if (first) {
        count = n;
        inputNonFinite = false;
      }
      invariant(n === count && n <= capacity, `accumulator: ${n} elements where the chunk has ${count} (capacity ${capacity})`);
      const padded = roundUp(n);
      const flag = first ? 1 : 0;
      const acc = accAt(slot);
      const w = Math.fround(weight);
      // The fp16 kernel scales the weight by 2^112, exact below 2^15 (see the .wat).
      if (dtype === "F16" && Math.abs(w) < 2 ** 15) inputNonFinite = k.accF16(acc, place(bytes, 2), padded, w * 2 ** 112, flag) !== 0 || inputNonFinite;
      else if (dtype === "BF16") k.accBF16(acc, place(bytes, 2), padded, weight, flag);
      else {
        const f32 = dtype === "F32" ? bytes : (() => {
          const values = decodeToFloat32(bytes, dtype);
          return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
        })();
        k.accF32(acc, place(f32, 4), padded, weight, flag);
      }
    },
    finish(out, dtype) {
      invariant(out.byteLength === count * DTYPE_BYTES[dtype], `accumulator: ${out.byteLength} output bytes for ${count} ${dtype} elements`);
      const { at, nonFinite } = encode(dtype);
      out.set(memory.subarray(at, at + out.byteLength));
      return nonFinite;
    },
    finishInSlot(dtype) {
      const { at, nonFinite } = encode(dtype);
      return { bytes: memory.subarray(at, at + count * DTYPE_BYTES[dtype]), nonFinite };
    },
    mixInSlot(inputs, dtype) {
      const kind = mixKind(inputs, dtype);
      if (!kind) return mixByAdding(this, inputs, dtype);
      const width = DTYPE_BYTES[dtype];
      const n = inputs[0].bytes.byteLength / width;
      invariant(n <= capacity, `accumulator: ${n} elements where the capacity is ${capacity}`);
      count = n;
      inputNonFinite = false;
      inputs.forEach((x, i) => {
        invariant(x.bytes.byteLength === n * width, `accumulator: input ${i} has ${x.bytes.byteLength} bytes where the chunk has ${n * width}`);
        list.setInt32(8 * i, place(x.bytes, width), true);
        const w = Math.fround(x.weight);
        list.setFloat32(8 * i + 4, kind === "F16" ? w * 2 ** 112 : w, true);
      });
      const padded = roundUp(n);
      const at = dtype === "F16" ? out16At(slot) : accAt(slot);
      const bad = (kind === "F16" ? k.mixF16 : k.mixF32)(at, listAt, inputs.length, padded);
      return { bytes: memory.subarray(at, at + n * width), nonFinite: bad !== 0 };
    },
  };

  /** Which one-pass kernel serves these inputs, or null: all in the read slots, one dtype, the output's. */
  function mixKind(inputs: readonly MixInput[], dtype: DType): "F16" | "F32" | null {
    if (inputs.length === 0 || inputs.length > MIX_INPUTS || (dtype !== "F16" && dtype !== "F32")) return null;
    for (const x of inputs) {
      if (x.dtype !== dtype || x.bytes.buffer !== buffer || x.bytes.byteOffset + roundUp(x.bytes.byteLength / DTYPE_BYTES[dtype]) * DTYPE_BYTES[dtype] > staging) return null;
      // The fp16 kernel scales the weight by 2^112, exact below 2^15 (see the .wat).
      if (dtype === "F16" && !(Math.abs(Math.fround(x.weight)) < 2 ** 15)) return null;
    }
    return dtype;
  }
}
