import { PixelImage } from "../resize/preprocessImage";

/** Decoded 8-bit pixels, HWC interleaved: 1 channel for grey label PNGs, 3 (or 4) for colour. */
export type DecodedImage = PixelImage;

/**
 * Image decoding as core needs it; implemented outside core (src/imaging/sharpDecoder.ts) so that
 * core stays free of native dependencies. Implementations must return the stored sample values
 * untouched (no colour management, gamma or EXIF rotation): label PNGs carry class ids, panoptic
 * PNGs segment ids.
 */
export interface ImageDecoder {
  decode(path: string): Promise<DecodedImage>;
  /** Header-only size, when the decoder can read it without decoding (faster validation). */
  probe?(path: string): Promise<{ width: number; height: number; channels: number }>;
}
