/**
 * bench:candidates' synthetic model families: backbones × 10 heads (20 backbones by default, more
 * with `--structures`) whose structures overlap as real segmentation models do (see the seeding
 * notes in candidatesBench.ts), written as safetensors files in forward order.
 */
import { bufferSource } from "../src/core/formats/byteSource";
import { parseSafetensors } from "../src/core/formats/safetensors/parseSafetensors";
import { byteLength, writeSafetensors, type TestTensor } from "../src/core/formats/safetensors/testing/writeSafetensors";
import type { ParsedModel } from "../src/core/structure/types";
import { prng } from "../src/core/testing/prng";

/** Backbones of the default run (200 structures); registrations of new structures use these. */
export const BACKBONES = 20;
export const HEADS = 10;

export type Spec = Pick<TestTensor, "name" | "dtype" | "shape">;

function batchNorm(prefix: string, c: number): Spec[] {
  return [
    { name: `${prefix}.weight`, dtype: "F32", shape: [c] },
    { name: `${prefix}.bias`, dtype: "F32", shape: [c] },
    { name: `${prefix}.running_mean`, dtype: "F32", shape: [c] },
    { name: `${prefix}.running_var`, dtype: "F32", shape: [c] },
    // Not a parameter (I64): listed, never shared.
    { name: `${prefix}.num_batches_tracked`, dtype: "I64", shape: [] },
  ];
}

function convModule(prefix: string, cout: number, cin: number, k: number): Spec[] {
  return [{ name: `${prefix}.conv.weight`, dtype: "F32", shape: [cout, cin, k, k] }, ...batchNorm(`${prefix}.bn`, cout)];
}

export interface Backbone {
  index: number;
  family: number;
  variant: number;
  /** Output channels of the four stages (what heads consume). */
  channels: number[];
  tensors: Spec[];
}

/**
 * Backbone b: family ⌊b/5⌋ (style and width), variant b mod 5 (stage-3 depth, stage-4 width).
 * Families 0–3 are ResNet at widths 4 and 6, then MiT at 4 and 6; each further group of four
 * repeats that pattern 4 channels wider (ResNet-50 vs ResNet-101-wide, MiT-B0 vs B2), so larger
 * runs add families whose names match the smaller ones with other shapes.
 */
export function backbone(index: number): Backbone {
  const family = Math.floor(index / 5);
  const variant = index % 5;
  const style = family % 4 < 2 ? "resnet" : "mit";
  const width = (family % 2 === 0 ? 4 : 6) + 4 * Math.floor(family / 4);
  const channels = [1, 2, 3, 4].map((k) => width * k);
  if (variant >= 3) channels[3]! += 2;
  const tensors: Spec[] = [];
  if (style === "resnet") {
    const depths = [3, 4, 6 + variant, 3];
    tensors.push({ name: "backbone.stem.conv.weight", dtype: "F32", shape: [width, 3, 3, 3] }, ...batchNorm("backbone.stem.bn", width));
    let cin = width;
    depths.forEach((depth, s) => {
      const c = channels[s]!;
      for (let k = 0; k < depth; k++) {
        const p = `backbone.layer${s + 1}.${k}`;
        tensors.push({ name: `${p}.conv1.weight`, dtype: "F32", shape: [c, k === 0 ? cin : c, 3, 3] }, ...batchNorm(`${p}.bn1`, c));
        tensors.push({ name: `${p}.conv2.weight`, dtype: "F32", shape: [c, c, 1, 1] }, ...batchNorm(`${p}.bn2`, c));
        if (k === 0) tensors.push({ name: `${p}.downsample.0.weight`, dtype: "F32", shape: [c, cin, 1, 1] }, ...batchNorm(`${p}.downsample.1`, c));
      }
      cin = c;
    });
  } else {
    const depths = [2, 3, 4 + variant, 3];
    let cin = 3;
    depths.forEach((depth, s) => {
      const c = channels[s]!;
      const e = `backbone.patch_embed${s + 1}`;
      tensors.push(
        { name: `${e}.proj.weight`, dtype: "F32", shape: [c, cin, s === 0 ? 7 : 3, s === 0 ? 7 : 3] },
        { name: `${e}.proj.bias`, dtype: "F32", shape: [c] },
        { name: `${e}.norm.weight`, dtype: "F32", shape: [c] },
        { name: `${e}.norm.bias`, dtype: "F32", shape: [c] },
      );
      for (let k = 0; k < depth; k++) {
        const p = `backbone.block${s + 1}.${k}`;
        const linear = (name: string, out: number, inp: number): Spec[] => [
          { name: `${p}.${name}.weight`, dtype: "F32", shape: [out, inp] },
          { name: `${p}.${name}.bias`, dtype: "F32", shape: [out] },
        ];
        tensors.push(
          { name: `${p}.norm1.weight`, dtype: "F32", shape: [c] },
          { name: `${p}.norm1.bias`, dtype: "F32", shape: [c] },
          ...linear("attn.q", c, c),
          ...linear("attn.kv", 2 * c, c),
          ...linear("attn.proj", c, c),
          { name: `${p}.norm2.weight`, dtype: "F32", shape: [c] },
          { name: `${p}.norm2.bias`, dtype: "F32", shape: [c] },
          ...linear("mlp.fc1", 4 * c, c),
          { name: `${p}.mlp.dwconv.dwconv.weight`, dtype: "F32", shape: [4 * c, 1, 3, 3] },
          { name: `${p}.mlp.dwconv.dwconv.bias`, dtype: "F32", shape: [4 * c] },
          ...linear("mlp.fc2", c, 4 * c),
        );
      }
      tensors.push({ name: `backbone.norm${s + 1}.weight`, dtype: "F32", shape: [c] }, { name: `backbone.norm${s + 1}.bias`, dtype: "F32", shape: [c] });
      cin = c;
    });
  }
  return { index, family, variant, channels, tensors };
}

export const HEAD_KINDS = ["fcn", "segformer", "psp", "aspp", "uper"] as const;
const HEAD_CHANNELS = 16;

/** Head h: kind h mod 5, 19 classes for h < 5 and 16 (Synthia) above; `classes` overrides. */
export function head(h: number, bb: Backbone, classes = h < 5 ? 19 : 16): Spec[] {
  const kind = HEAD_KINDS[h % 5]!;
  const ch = HEAD_CHANNELS;
  const [c1, c2, c3, c4] = bb.channels as [number, number, number, number];
  const d = "decode_head";
  const out: Spec[] = [];
  const aux = () => out.push(...convModule("auxiliary_head.convs.0", ch, c3, 3), { name: "auxiliary_head.conv_seg.weight", dtype: "F32", shape: [classes, ch, 1, 1] }, { name: "auxiliary_head.conv_seg.bias", dtype: "F32", shape: [classes] });
  const psp = () => [1, 2, 3, 6].forEach((_, k) => out.push(...convModule(`${d}.psp_modules.${k}.1`, ch, c4, 1)));
  switch (kind) {
    case "fcn":
      out.push(...convModule(`${d}.convs.0`, ch, c4, 3), ...convModule(`${d}.convs.1`, ch, ch, 3), ...convModule(`${d}.conv_cat`, ch, c4 + ch, 3));
      aux();
      break;
    case "segformer":
      [c1, c2, c3, c4].forEach((c, k) => out.push({ name: `${d}.linear_c${k + 1}.proj.weight`, dtype: "F32", shape: [ch, c] }, { name: `${d}.linear_c${k + 1}.proj.bias`, dtype: "F32", shape: [ch] }));
      out.push(...convModule(`${d}.linear_fuse`, ch, 4 * ch, 1));
      break;
    case "psp":
      psp();
      out.push(...convModule(`${d}.bottleneck`, ch, c4 + 4 * ch, 3));
      aux();
      break;
    case "aspp":
      out.push(...convModule(`${d}.image_pool.1`, ch, c4, 1));
      [1, 12, 24, 36].forEach((_, k) => out.push(...convModule(`${d}.aspp_modules.${k}`, ch, c4, k === 0 ? 1 : 3)));
      out.push(...convModule(`${d}.bottleneck`, ch, 5 * ch, 3));
      aux();
      break;
    case "uper":
      psp();
      out.push(...convModule(`${d}.bottleneck`, ch, c4 + 4 * ch, 3));
      [c1, c2, c3].forEach((c, k) => out.push(...convModule(`${d}.lateral_convs.${k}`, ch, c, 1), ...convModule(`${d}.fpn_convs.${k}`, ch, ch, 3)));
      out.push(...convModule(`${d}.fpn_bottleneck`, ch, 4 * ch, 3));
      aux();
      break;
  }
  out.push({ name: `${d}.conv_seg.weight`, dtype: "F32", shape: [classes, ch, 1, 1] }, { name: `${d}.conv_seg.bias`, dtype: "F32", shape: [classes] });
  return out;
}

/**
 * A safetensors file for these tensors, in forward order (so the layer order is the storage
 * order). `salt` changes the bytes, not the structure: each registered model is its own file.
 */
export function fileFor(specs: readonly Spec[], salt: number): Uint8Array {
  const random = prng(salt * 7919 + 1);
  const tensors: TestTensor[] = specs.map((s) => {
    const data = new Uint8Array(byteLength(s));
    for (let k = 0; k < data.length; k += 4) {
      const v = Math.floor(random() * 0xffffffff);
      data[k] = v & 0xff;
      if (k + 1 < data.length) data[k + 1] = (v >>> 8) & 0xff;
      if (k + 2 < data.length) data[k + 2] = (v >>> 16) & 0xff;
      // Keeps F32 values finite: the top byte is never 0x7f/0xff.
      if (k + 3 < data.length) data[k + 3] = (v >>> 24) & 0x3f;
    }
    return { ...s, data };
  });
  return writeSafetensors(tensors, { metadata: { format: "pt", bench: String(salt) } });
}

export function parse(bytes: Uint8Array): ParsedModel {
  return parseSafetensors(bufferSource(bytes));
}
