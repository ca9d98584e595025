import type { DType } from "../../structure/types";

/**
 * The dtype names a safetensors header may use (the spec's `Dtype` enum) that this registry can
 * size. Newer sub-byte and micro-scaling types (F4, F6_*, F8_E8M0) are absent on purpose: their
 * byte sizes are not `elements × width`, so a header using them is rejected with a clear message
 * rather than mis-sized.
 */
export const SAFETENSORS_DTYPES: ReadonlyMap<string, DType> = new Map<string, DType>([
  ["F64", "F64"], ["F32", "F32"], ["F16", "F16"], ["BF16", "BF16"],
  ["I64", "I64"], ["I32", "I32"], ["I16", "I16"], ["I8", "I8"],
  ["U64", "U64"], ["U32", "U32"], ["U16", "U16"], ["U8", "U8"],
  ["BOOL", "BOOL"], ["F8_E4M3", "F8_E4M3"], ["F8_E5M2", "F8_E5M2"], ["C64", "C64"],
]);

/**
 * Rank of each dtype in the official writer's `Dtype` enum (declaration order, roughly by width).
 * The writer stores tensors sorted by this rank descending, then by name, so a file it wrote shows
 * dtype blocks in this order.
 */
export const OFFICIAL_DTYPE_RANK: Readonly<Record<string, number>> = {
  BOOL: 0, U8: 4, I8: 5, F8_E5M2: 6, F8_E4M3: 7, I16: 9, U16: 10, F16: 11, BF16: 12,
  I32: 13, U32: 14, F32: 15, C64: 16, F64: 17, I64: 18, U64: 19,
};
