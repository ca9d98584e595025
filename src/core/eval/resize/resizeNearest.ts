import { badInput } from "../../errors";

type IdArray = Uint8Array | Uint16Array | Int32Array;

/**
 * Nearest-neighbour resize of an id map [inH, inW] (SEMANTIC_IDS / PANOPTIC_IDS outputs, which
 * cannot be interpolated) to label resolution, as PyTorch `F.interpolate(mode="nearest")`:
 * src = min(⌊dst · in/out⌋, in − 1) with the scale in float32.
 */
export function resizeNearest<T extends IdArray>(ids: T, inH: number, inW: number, outH: number, outW: number): T {
  if (ids.length !== inH * inW) throw badInput(`id map holds ${ids.length} values, expected ${inH}×${inW} = ${inH * inW}`);
  if (inH === outH && inW === outW) return ids.slice() as T;
  const out = new (ids.constructor as new (n: number) => T)(outH * outW);
  const sy = Math.fround(inH / outH);
  const sx = Math.fround(inW / outW);
  const xs = new Int32Array(outW);
  for (let x = 0; x < outW; x++) xs[x] = Math.min(Math.floor(Math.fround(x * sx)), inW - 1);
  for (let y = 0; y < outH; y++) {
    const row = Math.min(Math.floor(Math.fround(y * sy)), inH - 1) * inW;
    const o = y * outW;
    for (let x = 0; x < outW; x++) out[o + x] = ids[row + xs[x]];
  }
  return out;
}
