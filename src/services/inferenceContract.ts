import { badInput } from "../core/errors";
import { ChannelOrder, Normalization, OutputKind, ResizeMode } from "../domain/enums";
import { oneOf, requiredText } from "./validate";
import type { PostprocessSettings } from "../domain/postprocessSettings";

/**
 * How to run a model: input tensor, size, resize policy, normalisation (mean/std on the 0–255
 * scale, as mmsegmentation's img_norm_cfg, and how the reference pipeline rounds (x − mean) / std),
 * outputs and panoptic post-processing.
 */
export interface InferenceContract {
  inputName: string;
  width: number;
  height: number;
  resize: { mode: ResizeMode; cropSize?: number[] | null; stride?: number[] | null };
  channelOrder: ChannelOrder;
  mean: number[];
  std: number[];
  normalization: Normalization;
  /** `activation`: PROBS when the output holds probabilities rather than logits (absent: LOGITS). */
  outputs: Array<{ name: string; kind: OutputKind; activation?: "LOGITS" | "PROBS" }>;
  postprocess?: PostprocessSettings | null;
}

export type { PostprocessSettings };

export type InferenceContractInput = Partial<Omit<InferenceContract, "resize" | "outputs">> & {
  resize?: Partial<InferenceContract["resize"]> | null;
  outputs?: Array<{ name: string; kind: string; activation?: string | null }> | null;
};

const MAX_SIDE = 16_384;

/** A stored contract's normalisation: one written before the field existed has none and runs as DIVIDE, the default. */
export function storedNormalization(contract: { normalization?: string | null }): Normalization {
  return (contract.normalization as Normalization | null | undefined) ?? Normalization.DIVIDE;
}

/** Fills defaults and checks every field; returns a normalised contract. */
export function checkInferenceContract(input: InferenceContractInput, field = "input.inference"): InferenceContract {
  const width = side(input.width ?? 512, `${field}.width`);
  const height = side(input.height ?? 512, `${field}.height`);
  const mode = oneOf(input.resize?.mode ?? ResizeMode.FIXED, ResizeMode, `${field}.resize.mode`);
  let cropSize: number[] | null = null;
  let stride: number[] | null = null;
  if (mode === ResizeMode.SLIDE) {
    cropSize = pair(input.resize?.cropSize ?? [height, width], `${field}.resize.cropSize`);
    stride = pair(input.resize?.stride ?? cropSize.map((c) => Math.max(1, Math.floor((c * 2) / 3))), `${field}.resize.stride`);
  } else if (input.resize?.cropSize != null || input.resize?.stride != null) {
    throw badInput(`${field}.resize: cropSize and stride apply only to mode SLIDE`, `${field}.resize`);
  }
  const mean = triple(input.mean ?? [123.675, 116.28, 103.53], `${field}.mean`);
  const std = triple(input.std ?? [58.395, 57.12, 57.375], `${field}.std`);
  std.forEach((s, i) => {
    if (s <= 0) throw badInput(`${field}.std.${i} must be positive (got ${s})`, `${field}.std`);
  });
  const outputs = (input.outputs ?? [{ name: "logits", kind: OutputKind.SEMANTIC_LOGITS }]).map((o: { name: string; kind: string; activation?: string | null }, i) => {
    const out: InferenceContract["outputs"][number] = { name: requiredText(o.name, `${field}.outputs.${i}.name`), kind: oneOf(o.kind, OutputKind, `${field}.outputs.${i}.kind`) };
    // Stored only when given, so contracts (and the evaluation settings hashed from them) stay as they were.
    if (o.activation != null) {
      if (o.activation !== "LOGITS" && o.activation !== "PROBS") throw badInput(`${field}.outputs.${i}.activation must be LOGITS or PROBS`, `${field}.outputs.${i}.activation`);
      out.activation = o.activation;
    }
    return out;
  });
  if (outputs.length === 0) throw badInput(`${field}.outputs must list at least one output`, `${field}.outputs`);
  return {
    inputName: requiredText(input.inputName ?? "input", `${field}.inputName`),
    width,
    height,
    resize: { mode, cropSize, stride },
    channelOrder: oneOf(input.channelOrder ?? ChannelOrder.RGB, ChannelOrder, `${field}.channelOrder`),
    mean,
    std,
    normalization: oneOf(input.normalization ?? Normalization.DIVIDE, Normalization, `${field}.normalization`),
    outputs,
    postprocess: input.postprocess ? checkPostprocess(input.postprocess, `${field}.postprocess`) : null,
  };
}

function checkPostprocess(p: PostprocessSettings, field: string): PostprocessSettings {
  const num = (v: number | null | undefined, name: string, fallback: number, min: number, max: number, integer: boolean) => {
    const value = v ?? fallback;
    if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      throw badInput(`${field}.${name} must be ${integer ? "an integer" : "a number"} from ${min} to ${max} (got ${value})`, `${field}.${name}`);
    }
    return value;
  };
  const nmsKernel = num(p.nmsKernel, "nmsKernel", 7, 1, 255, true);
  if (nmsKernel % 2 === 0) throw badInput(`${field}.nmsKernel must be odd (got ${nmsKernel})`, `${field}.nmsKernel`);
  return {
    centerThreshold: num(p.centerThreshold, "centerThreshold", 0.1, 0, 1, false),
    nmsKernel,
    topK: num(p.topK, "topK", 200, 1, 100_000, true),
    stuffArea: num(p.stuffArea, "stuffArea", 0, 0, 1e9, true),
    thingArea: num(p.thingArea, "thingArea", 0, 0, 1e9, true),
    labelDivisor: num(p.labelDivisor, "labelDivisor", 1000, 2, 1e9, true),
    offsetOrder: oneOf(p.offsetOrder ?? "YX", { YX: "YX", XY: "XY" } as const, `${field}.offsetOrder`),
    centerActivation: oneOf(p.centerActivation ?? "NONE", { NONE: "NONE", SIGMOID: "SIGMOID" } as const, `${field}.centerActivation`),
  };
}

function side(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 1 || value > MAX_SIDE) throw badInput(`${field} must be an integer from 1 to ${MAX_SIDE} (got ${value})`, field);
  return value;
}

function pair(values: number[], field: string): number[] {
  if (!Array.isArray(values) || values.length !== 2) throw badInput(`${field} must be [height, width]`, field);
  return values.map((v, i) => side(v, `${field}.${i}`));
}

function triple(values: number[], field: string): number[] {
  if (!Array.isArray(values) || values.length !== 3) throw badInput(`${field} must hold 3 values (one per channel)`, field);
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) throw badInput(`${field}.${i} must be a finite number`, field);
  });
  return [...values];
}
