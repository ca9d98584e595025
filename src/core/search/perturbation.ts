import type { PixelImage } from "../eval/resize/preprocessImage";
import { splitmix64At, unitInterval } from "./splitmix64";

/** An interleaved HWC image with float32 0–255 values (a perturbed copy, not rounded back to bytes). */
export interface FloatPixelImage {
  width: number;
  height: number;
  channels: number;
  data: Float32Array;
}

/** The colour jitter drawn for one image of a CONSISTENCY objective; stored with the search. */
export interface PerturbationDraw {
  /** Added to every 0–255 value: U(−32, 32). */
  brightness: number;
  /** Contrast factor about 127.5: U(0.5, 1.5). */
  contrast: number;
}

/**
 * Image i's draws are outputs 2i + 1 and 2i + 2 of splitmix64 seeded with the search's seed
 * (docs/CONVENTIONS.md, Merge search), so they do not depend on the order images are computed in.
 */
export function perturbationDraw(seed: bigint, imageIndex: number): PerturbationDraw {
  const k = 2n * BigInt(imageIndex);
  return {
    brightness: -32 + 64 * unitInterval(splitmix64At(seed, k + 1n)),
    contrast: 0.5 + unitInterval(splitmix64At(seed, k + 2n)),
  };
}

/**
 * The perturbed copy of a decoded image, before normalisation: flipped horizontally, then on
 * float32 0–255 values `v + brightness`, then `(v − 127.5) · contrast + 127.5`, clipped to
 * [0, 255] and not rounded. Every step is rounded to float32, the draws first. Returns the image
 * with float32 data in the decoded image's channel layout (HWC).
 */
export function perturbImage(image: PixelImage, draw: PerturbationDraw): FloatPixelImage {
  const { width, height, channels, data } = image;
  const out = new Float32Array(width * height * channels);
  const b = Math.fround(draw.brightness);
  const c = Math.fround(draw.contrast);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const src = (y * width + (width - 1 - x)) * channels;
      const dst = (y * width + x) * channels;
      for (let k = 0; k < channels; k++) {
        if (channels === 4 && k === 3) {
          out[dst + k] = data[src + k];
          continue;
        }
        const bright = Math.fround(data[src + k] + b);
        const v = Math.fround(Math.fround(Math.fround(bright - 127.5) * c) + 127.5);
        out[dst + k] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  return { width, height, channels, data: out };
}

/** A class map [H, W] flipped horizontally (the perturbed copy's prediction, flipped back). */
export function flipClassMap<T extends Uint8Array | Uint16Array | Int32Array>(map: T, height: number, width: number): T {
  const out = new (map.constructor as new (n: number) => T)(map.length);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) out[row + x] = map[row + width - 1 - x];
  }
  return out;
}
