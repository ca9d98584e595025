import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { GraphQLSafeInt, GraphQLJSONObject } from "graphql-scalars";
import { MERGE_METHODS, MERGE_METHOD_NAMES, SCHEDULE_KINDS } from "../../core/merge";
import { Model } from "./model.type";

/** The GraphQL enums are derived from the merge-method registry, never written twice. */
export const MergeMethod = Object.fromEntries(MERGE_METHOD_NAMES.map((n) => [n, n])) as { [K in (typeof MERGE_METHOD_NAMES)[number]]: K };
export const ScheduleKind = Object.fromEntries(SCHEDULE_KINDS.map((n) => [n, n])) as { [K in (typeof SCHEDULE_KINDS)[number]]: K };
registerEnumType(MergeMethod, {
  name: "MergeMethod",
  valuesConfig: Object.fromEntries(MERGE_METHOD_NAMES.map((n) => [n, { description: `${MERGE_METHODS[n].title} (arXiv ${MERGE_METHODS[n].paper.arxiv})` }])),
});
registerEnumType(ScheduleKind, {
  name: "ScheduleKind",
  description: "s(t) over layer position t = l/(L−1): LINEAR t, STEP [t ≥ cutoff], COSINE (1−cos πt)/2, UNIFORM 0 (a model soup), CUSTOM knots interpolated linearly.",
});
registerEnumType(
  { ANCHOR: "ANCHOR", CONTRIBUTOR: "CONTRIBUTOR", BASE: "BASE" },
  { name: "MergeRole" },
);

@InputType({ description: "CUSTOM knots for one parameter group: the tensors whose names start with prefix." })
export class ScheduleGroupInput {
  @Field() prefix!: string;
  @Field(() => [Float], { description: "s at evenly spaced t from 0 to 1 (≥ 2 values in [0, 1])." }) knots!: number[];
}

@InputType()
export class ScheduleInput {
  @Field(() => ScheduleKind, { nullable: true, description: "Default LINEAR." }) kind?: string;
  @Field(() => Float, { nullable: true, description: "STEP: t at which the anchor takes over (default 0.5)." }) cutoff?: number;
  @Field(() => [Float], { nullable: true, description: "CUSTOM: s at evenly spaced t from 0 to 1 (≥ 2 values in [0, 1])." }) knots?: number[];
  @Field(() => [ScheduleGroupInput], { nullable: true, description: "Per-group CUSTOM knots overriding the schedule for their tensors (the longest matching prefix wins)." }) groups?: ScheduleGroupInput[];
}

@InputType({ description: "Method parameters; each method takes the ones listed in mergeMethods." })
export class MergeParamsInput {
  @Field(() => Float, { nullable: true, description: "TASK_ARITHMETIC / TIES / DARE: scale of the summed task vectors (default 1)." }) lambda?: number;
  @Field(() => Float, { nullable: true, description: "TIES: fraction of each task vector kept by magnitude (default 0.2)." }) density?: number;
  @Field(() => Float, { nullable: true, description: "DARE: drop rate p (default 0.9); survivors are rescaled by 1/(1−p)." }) dropRate?: number;
  @Field(() => Int, { nullable: true, description: "DARE: seed of the drop pattern." }) seed?: number;
}

@InputType()
export class MergeOutputInput {
  @Field({ nullable: true, description: "Default <anchor>-<method>-<recipe hash>." }) name?: string;
  @Field({ nullable: true }) version?: string;
  @Field(() => [String], { nullable: true }) tags?: string[];
}

@InputType()
export class StartMergeInput {
  @Field(() => ID, { description: "The anchor: the output has exactly its graph and tensors." }) anchorId!: string;
  @Field(() => [ID], { description: "Contributors (not the anchor)." }) modelIds!: string[];
  @Field(() => MergeMethod, { nullable: true, description: "Default LAYERWISE." }) method?: string;
  @Field(() => ScheduleInput, { nullable: true }) schedule?: ScheduleInput;
  @Field(() => [Float], { nullable: true, description: "Relative weights, one per contributor in modelIds order: they split 1 − w_a in proportion." }) weights?: number[];
  @Field(() => ID, { nullable: true, description: "The common pre-trained model; required by TASK_ARITHMETIC, TIES and DARE." }) baseModelId?: string;
  @Field(() => MergeParamsInput, { nullable: true }) params?: MergeParamsInput;
  @Field(() => MergeOutputInput, { nullable: true }) output?: MergeOutputInput;
}

@ObjectType()
export class ScheduleGroup {
  @Field() prefix!: string;
  @Field(() => [Float]) knots!: number[];
}

@ObjectType()
export class MergeScheduleInfo {
  @Field(() => ScheduleKind) kind!: string;
  @Field(() => Float, { nullable: true }) cutoff!: number | null;
  @Field(() => [Float], { nullable: true }) knots!: number[] | null;
  @Field(() => [ScheduleGroup], { nullable: true, description: "Per-group CUSTOM knots, when the schedule has them." }) groups?: ScheduleGroup[] | null;
}

@ObjectType({ description: "Effective weight of every input (anchor first, then contributors in order) for one layer." })
export class MergeLayer {
  @Field(() => Int) index!: number;
  @Field(() => [Float]) weights!: number[];
  @Field(() => Int, { description: "Tensors of this layer that are merged." }) mergedTensors!: number;
}

@ObjectType()
export class MergeInputInfo {
  @Field(() => Model) model!: Model;
  @Field() role!: string;
  @Field(() => Int) position!: number;
  @Field(() => Float, { nullable: true }) relativeWeight!: number | null;
  @Field(() => Float, { nullable: true, description: "Effective weight averaged over the merged tensors, weighted by element count." }) meanWeight!: number | null;
  modelId!: string;
}

@ObjectType({ description: "How a merged model was made; enough to re-run it exactly." })
export class Merge {
  @Field(() => ID) id!: string;
  @Field(() => MergeMethod) method!: string;
  @Field(() => MergeScheduleInfo) schedule!: MergeScheduleInfo;
  @Field(() => GraphQLJSONObject, { description: "Method parameters with defaults filled in, and the relative weights." }) params!: Record<string, unknown>;
  @Field() recipeHash!: string;
  @Field() createdAt!: Date;
  @Field(() => [MergeLayer]) layers!: MergeLayer[];
  anchorId!: string;
  outputModelId!: string | null;
  jobId!: string | null;
}

@ObjectType()
export class PlannedTensor {
  @Field() name!: string;
  @Field({ description: "MERGE or COPY" }) action!: string;
  @Field(() => String, { nullable: true, description: "Why a tensor is copied: NOT_SHARED or NOT_FLOATING." }) reason!: string | null;
  @Field(() => Int) layerIndex!: number;
  @Field(() => [Int]) shape!: number[];
  @Field() dtype!: string;
  @Field(() => Int, { description: "Models that share it (N for this tensor)." }) sharedBy!: number;
}

@ObjectType()
export class PlannedInput {
  @Field(() => Model) model!: Model;
  @Field() role!: string;
  @Field(() => Float, { nullable: true }) meanWeight!: number | null;
}

@ObjectType({ description: "A merge preview: computed from the stored structures, nothing is read or written." })
export class MergePlan {
  @Field(() => MergeMethod) method!: string;
  @Field(() => MergeScheduleInfo) schedule!: MergeScheduleInfo;
  @Field(() => GraphQLJSONObject) params!: Record<string, unknown>;
  @Field(() => Int) layerCount!: number;
  @Field(() => [MergeLayer]) layers!: MergeLayer[];
  @Field(() => [PlannedInput]) inputs!: PlannedInput[];
  @Field(() => Int) mergedTensorCount!: number;
  @Field(() => Int) copiedTensorCount!: number;
  @Field(() => GraphQLSafeInt) mergedElements!: number;
  @Field(() => GraphQLSafeInt, { description: "Bytes of tensor data in the output." }) expectedOutputBytes!: number;
  @Field(() => GraphQLSafeInt, { description: "Bytes of tensor data the merge reads." }) inputBytes!: number;
  @Field(() => [PlannedTensor]) tensors!: PlannedTensor[];
}

@ObjectType()
export class MergeMethodParameter {
  @Field() name!: string;
  @Field() type!: string;
  @Field(() => Float, { nullable: true }) default!: number | null;
  @Field(() => Float, { nullable: true }) min!: number | null;
  @Field(() => Float, { nullable: true }) max!: number | null;
  @Field() description!: string;
}

@ObjectType({ description: "An entry of the merge-method registry." })
export class MergeMethodInfo {
  @Field(() => MergeMethod) name!: string;
  @Field() title!: string;
  @Field() description!: string;
  @Field({ description: "arXiv id of the paper." }) arxiv!: string;
  @Field() paperTitle!: string;
  @Field() needsBase!: boolean;
  @Field(() => [MergeMethodParameter]) parameters!: MergeMethodParameter[];
}
