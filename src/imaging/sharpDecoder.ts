import sharp from "sharp";
import { DecodedImage, ImageDecoder } from "../core/eval/datasets/ImageDecoder";

/**
 * ImageDecoder on sharp (libvips) for PNG and JPEG. Returns stored samples unchanged:
 * - greyscale files stay single-channel (sharp would otherwise emit sRGB with three equal
 *   channels), so label PNGs keep their class values;
 * - no colour-profile conversion (`keepIccProfile`), no EXIF auto-rotation (sharp rotates only
 *   when asked), so panoptic PNG ids and label geometry are the file's own;
 * - palette PNGs come out expanded to RGB (libvips does not expose indices), and 16-bit files are
 *   refused rather than silently scaled to 8 bits.
 */
export class SharpDecoder implements ImageDecoder {
  async decode(path: string): Promise<DecodedImage> {
    const image = sharp(path, { failOn: "error" }).keepIccProfile();
    const meta = await image.metadata();
    checkDepth(meta.depth);
    const grey = !meta.isPalette && (meta.channels === 1 || meta.channels === 2);
    const { data, info } = await (grey ? image.toColourspace("b-w") : image).raw().toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, channels: info.channels, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  }

  async probe(path: string): Promise<{ width: number; height: number; channels: number }> {
    const meta = await sharp(path, { failOn: "error" }).metadata();
    checkDepth(meta.depth);
    if (!meta.width || !meta.height || !meta.channels) throw new Error(`cannot read the image size`);
    return { width: meta.width, height: meta.height, channels: meta.channels };
  }
}

function checkDepth(depth: string | undefined): void {
  if (depth !== undefined && depth !== "uchar") throw new Error(`${depth} samples are not supported; images and labels must be 8-bit`);
}
