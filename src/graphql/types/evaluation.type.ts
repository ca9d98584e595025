import { Field, Float, ID, InputType, Int, ObjectType } from "type-graphql";
import { GraphQLJSONObject } from "graphql-scalars";
import { PageInfo } from "./pageInfo.type";
import { Model } from "./model.type";

@ObjectType({ description: "Scores per class; pq/sq/rq for panoptic evaluations. Fractions (0.523 = 52.3 %); null where undefined (empty union, no segments)." })
export class PerClassScore {
  @Field(() => Int) classId!: number;
  @Field() name!: string;
  @Field() isThing!: boolean;
  @Field(() => Float, { nullable: true }) iou!: number | null;
  @Field(() => Float, { nullable: true, description: "Pixel accuracy TP / GT." }) acc!: number | null;
  @Field(() => Float, { nullable: true }) pq!: number | null;
  @Field(() => Float, { nullable: true }) sq!: number | null;
  @Field(() => Float, { nullable: true }) rq!: number | null;
}

@ObjectType({ description: "One evaluation of a model on a dataset split. Scores are unrounded fractions." })
export class Evaluation {
  @Field(() => ID) id!: string;
  @Field(() => Float, { nullable: true, description: "The task's metric: mIoU (semantic) or PQ (panoptic)." }) score!: number | null;
  @Field(() => GraphQLJSONObject, { description: "mIoU, aAcc, mAcc, nClasses, pixels, classSubset; pq { all things stuff } with pq/sq/rq/n for panoptic." }) metrics!: Record<string, unknown>;
  @Field(() => [PerClassScore]) perClass!: PerClassScore[];
  @Field(() => Int) images!: number;
  @Field(() => Int) durationMs!: number;
  @Field({ description: "Hash of everything that can change the numbers (weights, contract, dataset checksum, limit, classes)." }) settingsHash!: string;
  @Field(() => GraphQLJSONObject, { nullable: true }) settings!: Record<string, unknown> | null;
  @Field({ description: "Full split with default settings: this evaluation can be the model's score." }) canonical!: boolean;
  @Field({ description: "Recorded with recordEvaluation (computed elsewhere)." }) external!: boolean;
  @Field(() => String, { nullable: true, description: "Provenance of an external score." }) source!: string | null;
  @Field() createdAt!: Date;
  modelId!: string;
  datasetId!: string;
  jobId!: string | null;
}

@InputType()
export class StartEvaluationInput {
  @Field(() => ID) modelId!: string;
  @Field(() => ID) datasetId!: string;
  @Field(() => Int, { nullable: true, description: "Only the first N images (such a run is not the model's canonical score)." }) limit?: number;
  @Field(() => Int, { nullable: true, description: "Images per session.run (default 1); does not change the numbers." }) batchSize?: number;
  @Field(() => [Int], { nullable: true, description: "Class subset for mIoU (e.g. SYNTHIA → Cityscapes 16 / 13 classes)." }) classes?: number[];
  @Field({ nullable: true, description: "Run again even if an evaluation with the same settings is stored." }) force?: boolean;
}

@InputType()
export class RecordEvaluationInput {
  @Field(() => ID) modelId!: string;
  @Field(() => ID) datasetId!: string;
  @Field(() => Float, { description: "A fraction: 0.523 for 52.3 %." }) score!: number;
  @Field(() => GraphQLJSONObject, { nullable: true }) metrics?: Record<string, unknown>;
  @Field({ description: "Where the score comes from (paper, run URL, tool)." }) source!: string;
}

@ObjectType()
export class LeaderboardEntry {
  @Field(() => Int) rank!: number;
  @Field(() => Float) score!: number;
  modelId!: string;
  evaluationId!: string;
}

@ObjectType()
export class LeaderboardEdge {
  @Field() cursor!: string;
  @Field(() => LeaderboardEntry) node!: LeaderboardEntry;
}

@ObjectType()
export class LeaderboardConnection {
  @Field(() => [LeaderboardEdge]) edges!: LeaderboardEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
  @Field(() => Int) totalCount!: number;
}

@ObjectType()
export class ParentGain {
  @Field(() => Model) model!: Model;
  @Field(() => Float, { nullable: true, description: "The parent's score on the dataset." }) score!: number | null;
  @Field(() => Float, { nullable: true, description: "Merged score − this parent's score (negative when the merge is worse)." }) delta!: number | null;
  modelId!: string;
}

@ObjectType({ description: "What a merge gained on a dataset: shown as it is, negative gains included." })
export class MergeGain {
  @Field(() => Float, { nullable: true, description: "The merged model's score." }) score!: number | null;
  @Field(() => Float, { nullable: true }) bestParentScore!: number | null;
  @Field(() => Float, { nullable: true, description: "Merged score − the best parent's score." }) vsBestParent!: number | null;
  @Field(() => [ParentGain]) perParent!: ParentGain[];
}
