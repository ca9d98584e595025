import { registerEnumType, Field, Float, InputType, Int, ObjectType } from "type-graphql";
import { ChannelOrder, Normalization, OutputKind, ResizeMode } from "./enums";

@ObjectType()
export class ResizeSpec {
  @Field(() => ResizeMode) mode!: ResizeMode;
  @Field(() => [Int], { nullable: true, description: "SLIDE: [height, width] of a window." }) cropSize!: number[] | null;
  @Field(() => [Int], { nullable: true, description: "SLIDE: [height, width] step between windows." }) stride!: number[] | null;
}

export const OutputActivation = { LOGITS: "LOGITS", PROBS: "PROBS" } as const;
registerEnumType(OutputActivation, { name: "OutputActivation", description: "Whether a score output holds logits (softmax applied by label-free criteria) or probabilities." });

@ObjectType()
export class OutputSpec {
  @Field() name!: string;
  @Field(() => OutputKind) kind!: OutputKind;
  @Field(() => OutputActivation, { nullable: true, description: "Absent: LOGITS." }) activation?: string | null;
}

@ObjectType({ description: "Panoptic-DeepLab post-processing settings." })
export class PostprocessSpec {
  @Field(() => Float) centerThreshold!: number;
  @Field(() => Int) nmsKernel!: number;
  @Field(() => Int) topK!: number;
  @Field(() => Int) stuffArea!: number;
  @Field(() => Int) thingArea!: number;
  @Field(() => Int) labelDivisor!: number;
  @Field({ description: "YX: channel 0 is dy." }) offsetOrder!: string;
  @Field({ description: "NONE or SIGMOID." }) centerActivation!: string;
}

/** `normalization` is resolved by InferenceContractResolver (contracts stored before it existed read DIVIDE). */
@ObjectType({ description: "How to run the model: input, size, resize, normalisation (0–255 scale), outputs." })
export class InferenceContract {
  @Field() inputName!: string;
  @Field(() => Int) width!: number;
  @Field(() => Int) height!: number;
  @Field(() => ResizeSpec) resize!: ResizeSpec;
  @Field(() => ChannelOrder) channelOrder!: ChannelOrder;
  @Field(() => [Float]) mean!: number[];
  @Field(() => [Float]) std!: number[];
  @Field(() => [OutputSpec]) outputs!: OutputSpec[];
  @Field(() => PostprocessSpec, { nullable: true }) postprocess!: PostprocessSpec | null;
}

@InputType()
export class ResizeSpecInput {
  @Field(() => ResizeMode) mode!: ResizeMode;
  @Field(() => [Int], { nullable: true }) cropSize?: number[];
  @Field(() => [Int], { nullable: true }) stride?: number[];
}

@InputType()
export class OutputSpecInput {
  @Field() name!: string;
  @Field(() => OutputKind) kind!: OutputKind;
  @Field(() => OutputActivation, { nullable: true, description: "PROBS when the output holds probabilities (default LOGITS)." }) activation?: string;
}

@InputType()
export class PostprocessSpecInput {
  @Field(() => Float, { nullable: true, description: "Default 0.1." }) centerThreshold?: number;
  @Field(() => Int, { nullable: true, description: "Default 7." }) nmsKernel?: number;
  @Field(() => Int, { nullable: true, description: "Default 200." }) topK?: number;
  @Field(() => Int, { nullable: true, description: "Default 0 (Cityscapes configs often use 2048)." }) stuffArea?: number;
  @Field(() => Int, { nullable: true, description: "Default 0." }) thingArea?: number;
  @Field(() => Int, { nullable: true, description: "Default 1000." }) labelDivisor?: number;
  @Field({ nullable: true, description: "YX (default) or XY." }) offsetOrder?: "YX" | "XY";
  @Field({ nullable: true, description: "NONE (default) or SIGMOID." }) centerActivation?: "NONE" | "SIGMOID";
}

@InputType({
  description:
    "Fields given win, field by field. Registering an ONNX file, the others are read from it: its input's name, its static height and width " +
    "(FIXED; when dynamic, KEEP_RATIO at 2048×512), the head from its outputs, and mmsegmentation's RGB ImageNet mean/std on 0–255 with DIVIDE " +
    "(see inference.inferred and notes). Without a file: input 'input', 512×512, FIXED, RGB, ImageNet mean/std on 0–255, DIVIDE, one SEMANTIC_LOGITS output 'logits'.",
})
export class InferenceContractInput {
  @Field({ nullable: true, description: "Default: the ONNX graph's image input; without a file 'input'." }) inputName?: string;
  @Field(() => Int, { nullable: true, description: "Default: the input's static width (2048 when dynamic); without a file 512." }) width?: number;
  @Field(() => Int, { nullable: true, description: "Default: the input's static height (512 when dynamic); without a file 512." }) height?: number;
  @Field(() => ResizeSpecInput, { nullable: true, description: "Default: FIXED for a static input size, KEEP_RATIO for a dynamic one; without a file FIXED." }) resize?: ResizeSpecInput;
  @Field(() => ChannelOrder, { nullable: true, description: "Default RGB." }) channelOrder?: ChannelOrder;
  @Field(() => [Float], { nullable: true, description: "Default mmsegmentation's ImageNet mean [123.675, 116.28, 103.53]." }) mean?: number[];
  @Field(() => [Float], { nullable: true, description: "Default mmsegmentation's ImageNet std [58.395, 57.12, 57.375]." }) std?: number[];
  @Field(() => Normalization, { nullable: true, description: "Default DIVIDE." }) normalization?: Normalization;
  @Field(() => [OutputSpecInput], { nullable: true, description: "Default: the head read from the ONNX graph's outputs; without a file one SEMANTIC_LOGITS output 'logits'." }) outputs?: OutputSpecInput[];
  @Field(() => PostprocessSpecInput, { nullable: true }) postprocess?: PostprocessSpecInput;
}
