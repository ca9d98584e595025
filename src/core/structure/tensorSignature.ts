import type { TensorInfo } from "./types";

/**
 * The canonical signature of one tensor: its name, shape and dtype as a JSON array. JSON's string
 * escaping makes the encoding unambiguous (no name can imitate a separator), and it is stable
 * across runs and machines, so it can key maps and feed hashes.
 */
export function tensorSignature(t: Pick<TensorInfo, "name" | "shape" | "dtype">): string {
  return JSON.stringify([t.name, t.shape, t.dtype]);
}

/** A shape as a map key: `[8,3,3,3]` → `"8,3,3,3"`; a scalar is `""`, distinct from `[0]`. */
export function shapeKey(shape: readonly number[]): string {
  return shape.join(",");
}
