import type { ChannelOrder, Normalization, OutputKind, ResizeMode } from "../domain/enums";
import type { PostprocessSettings } from "../domain/postprocessSettings";

/**
 * The inference contract as the runtime reads it: structurally the registry's
 * `InferenceContract` (src/services/inferenceContract.ts), restated here so that runtime/ does
 * not import the services layer above it; its vocabularies are domain/enums.ts's, as strings.
 * It is expected already normalised by `checkInferenceContract` (defaults filled, values checked).
 */
export type ResizeModeName = `${ResizeMode}`;
export type NormalizationName = `${Normalization}`;
export type OutputKindName = `${OutputKind}`;

export interface RuntimeContract {
  inputName: string;
  /** FIXED: the input size. KEEP_RATIO and SLIDE: the scale of mmseg's `Resize(keep_ratio=True)`. */
  width: number;
  height: number;
  /** SLIDE: `cropSize` and `stride` are [height, width]. */
  resize: { mode: ResizeModeName; cropSize?: readonly number[] | null; stride?: readonly number[] | null };
  channelOrder: `${ChannelOrder}`;
  /** Per channel, in `channelOrder`, on the 0–255 scale. */
  mean: readonly number[];
  std: readonly number[];
  /** How (x − mean) / std is rounded (core's normalizeSample); absent (a contract stored before it existed): DIVIDE. */
  normalization?: NormalizationName | null;
  outputs: ReadonlyArray<{ name: string; kind: OutputKindName }>;
  postprocess?: PostprocessSettings | null;
}
