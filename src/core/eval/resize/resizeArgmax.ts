import { badInput } from "../../errors";
import { bilinearTaps } from "./bilinearTaps";

export type ClassIdArray = Uint8Array | Uint16Array | Int32Array;

/**
 * argmax over channels of the bilinear resize (half-pixel centres, as resizeBilinear) of float32
 * [C, inH, inW] logits to outH × outW — the class map at label resolution — without building the
 * [C, outH, outW] upsampled logits (19 × 1024 × 2048 floats = 160 MB for Cityscapes). Memory is
 * two horizontally resampled source rows per class, O(C · outW); upsampled neighbouring output
 * rows share source rows, so each source row is resampled once.
 *
 * Ties go to the lowest class id (torch.argmax). Out type: Uint8Array when C ≤ 256, else Uint16Array.
 */
export function resizeArgmax(logits: Float32Array, channels: number, inH: number, inW: number, outH: number, outW: number, out?: ClassIdArray): ClassIdArray {
  if (logits.length !== channels * inH * inW) {
    throw badInput(`logits hold ${logits.length} values, expected ${channels}×${inH}×${inW} = ${channels * inH * inW}`);
  }
  if (channels < 1) throw badInput(`logits need at least one channel`);
  const dst = out ?? (channels <= 256 ? new Uint8Array(outH * outW) : new Uint16Array(outH * outW));
  if (dst.length < outH * outW) throw badInput(`output buffer holds ${dst.length} values, needs ${outH * outW}`);
  if (dst instanceof Uint8Array && channels > 256) throw badInput(`a Uint8Array cannot hold ${channels} class ids`);
  const ty = bilinearTaps(inH, outH);
  const tx = bilinearTaps(inW, outW);
  const plane = inH * inW;

  // Two cache slots of horizontally resampled source rows, [C][outW] each.
  const slotRow = [-1, -1];
  const slots = [new Float32Array(channels * outW), new Float32Array(channels * outW)];
  const rowFor = (r: number, keep: number): Float32Array => {
    for (let s = 0; s < 2; s++) if (slotRow[s] === r) return slots[s];
    const s = slotRow[0] === keep ? 1 : 0;
    const buf = slots[s];
    for (let c = 0; c < channels; c++) {
      const base = c * plane + r * inW;
      const o = c * outW;
      for (let ox = 0; ox < outW; ox++) {
        buf[o + ox] = logits[base + tx.i0[ox]] * tx.w0[ox] + logits[base + tx.i1[ox]] * tx.w1[ox];
      }
    }
    slotRow[s] = r;
    return buf;
  };

  const best = new Float64Array(outW);
  const arg = new Int32Array(outW);
  for (let oy = 0; oy < outH; oy++) {
    const r0 = ty.i0[oy];
    const r1 = ty.i1[oy];
    const a = rowFor(r0, r1);
    const b = r1 === r0 ? a : rowFor(r1, r0);
    const wy0 = ty.w0[oy];
    const wy1 = ty.w1[oy];
    best.fill(-Infinity);
    arg.fill(0);
    for (let c = 0; c < channels; c++) {
      const o = c * outW;
      for (let ox = 0; ox < outW; ox++) {
        const v = a[o + ox] * wy0 + b[o + ox] * wy1;
        if (v > best[ox]) {
          best[ox] = v;
          arg[ox] = c;
        }
      }
    }
    const base = oy * outW;
    for (let ox = 0; ox < outW; ox++) dst[base + ox] = arg[ox];
  }
  return dst;
}
