import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { GraphQLJSONObject } from "graphql-scalars";
import { OBJECTIVE_KINDS } from "../../core/search";
import { MergeMethod, ScheduleInput } from "./merge.type";
import { PageInfo } from "./pageInfo.type";

/** Derived from core's list, never written twice. */
export const MergeSearchObjectiveKind = Object.fromEntries(OBJECTIVE_KINDS.map((k) => [k, k])) as { [K in (typeof OBJECTIVE_KINDS)[number]]: K };
registerEnumType(MergeSearchObjectiveKind, {
  name: "MergeSearchObjectiveKind",
  description:
    "How candidates are ranked (higher is better; docs/CONVENTIONS.md, Merge search). SCORE: the task's primary metric on a labelled dataset (mIoU; PQ on a panoptic task, as evaluation computes it). INFO_MAX: H(p̄) − mean H(p) over every pixel (SHOT). ENTROPY: −mean H(p). CONSISTENCY: mIoU of the prediction against the prediction on a flipped, colour-jittered copy. ENSEMBLE_AGREEMENT: mIoU against the pool's ensemble pseudo-labels.",
});
export const MergeSearchKeep = { BEST: "BEST", TOP_K: "TOP_K", NONE: "NONE" } as const;
registerEnumType(MergeSearchKeep, { name: "MergeSearchKeep", description: "What the search registers when it ends: the pick, the topK best, or nothing. A single-model pick is never written." });
export const MergeSearchStrategy = { GRID: "GRID", EVOLUTION: "EVOLUTION" } as const;
registerEnumType(MergeSearchStrategy, {
  name: "MergeSearchStrategy",
  description: "GRID enumerates the plan. EVOLUTION gives the grid half the candidate budget and the rest to seeded CMA-ES (population 4 + ⌊3 ln n⌋, σ₀ 0.2), which tunes 5 CUSTOM knots per parameter group of the best grid merge, whole generations in order.",
});
export const MergeSearchCandidateOrder = { OBJECTIVE: "OBJECTIVE", AUDIT: "AUDIT" } as const;
registerEnumType(MergeSearchCandidateOrder, { name: "MergeSearchCandidateOrder" });

@InputType()
export class MergeSearchObjectiveInput {
  @Field(() => MergeSearchObjectiveKind) kind!: string;
  @Field(() => ID, { description: "SCORE: a labelled dataset; the label-free kinds: any, IMAGES included." }) datasetId!: string;
  @Field(() => Int, { nullable: true, description: "The first N images in listing order (default 200)." }) limit?: number;
  @Field(() => Int, { nullable: true, description: "Seeds CONSISTENCY's jitter and the bootstrap (default 0)." }) seed?: number;
}

@InputType()
export class MergeSearchAuditInput {
  @Field(() => ID, { description: "A labelled dataset scored for every candidate, never used to choose." }) datasetId!: string;
  @Field(() => Int, { nullable: true, description: "Default 200." }) limit?: number;
}

@InputType()
export class MergeSearchBudgetInput {
  @Field(() => Int, { nullable: true, description: "Default 200: singles first, then pairs, then triples, in pool order." }) maxCandidates?: number;
  @Field(() => Float, { nullable: true, description: "Stop starting candidates after this long, counted from the first claim; a search scores at least one candidate." }) maxSeconds?: number;
}

@InputType()
export class MergeSearchOutputInput {
  @Field({ nullable: true, description: "Kept models are named <namePrefix>-<rank> (default: startMerge's naming)." }) namePrefix?: string;
  @Field(() => [String], { nullable: true }) tags?: string[];
}

@InputType({ description: "One parameter of a merge method and the values a search tries." })
export class MergeSearchParamValuesInput {
  @Field({ description: "A parameter of the method (mergeMethods: lambda, density, dropRate, seed…)." }) name!: string;
  @Field(() => [Float], { description: "Each value is checked as startMerge checks input.params." }) values!: number[];
}

@InputType({ description: "A merge method's parameter grid: every combination of the values is tried with every schedule." })
export class MergeSearchParamGridInput {
  @Field(() => MergeMethod, { description: "One of input.methods, at most one grid each." }) method!: string;
  @Field(() => [MergeSearchParamValuesInput], { description: "The first parameter varies slowest; parameters not named keep their defaults." }) parameters!: MergeSearchParamValuesInput[];
}

@InputType()
export class MergeSearchInput {
  @Field(() => [ID], { description: "The pool: 2 to 32 models of the objective dataset's task, each with an ONNX graph and a contract." }) modelIds!: string[];
  @Field(() => [ID], { nullable: true, description: "Models that may anchor a merge (default: every pool model)." }) anchorIds?: string[];
  @Field(() => Int, { nullable: true, description: "Models per candidate (default 3)." }) maxModels?: number;
  @Field({ nullable: true, description: "Each pool model alone is a candidate (default true)." }) includeSingles?: boolean;
  @Field(() => [MergeMethod], { nullable: true, description: "Default [LAYERWISE]." }) methods?: string[];
  @Field(() => ID, { nullable: true, description: "The base for the methods that need one (TASK_ARITHMETIC, TIES, DARE, MODEL_STOCK); refused when no method of the search uses it." }) baseModelId?: string;
  @Field(() => [MergeSearchParamGridInput], { nullable: true, description: "Per method, parameter values to try (default: each method at its default parameters)." }) paramGrids?: MergeSearchParamGridInput[];
  @Field(() => [ScheduleInput], { nullable: true, description: "Default UNIFORM, LINEAR, COSINE, STEP at 0.25 / 0.5 / 0.75." }) schedules?: ScheduleInput[];
  @Field(() => [[Float]], { nullable: true, description: "Relative contributor weights to try; each applies to candidates with as many contributors." }) weightGrids?: number[][];
  @Field(() => MergeSearchStrategy, { nullable: true, description: "Default GRID." }) strategy?: string;
  @Field(() => MergeSearchObjectiveInput) objective!: MergeSearchObjectiveInput;
  @Field(() => MergeSearchAuditInput, { nullable: true }) audit?: MergeSearchAuditInput;
  @Field(() => MergeSearchBudgetInput, { nullable: true }) budget?: MergeSearchBudgetInput;
  @Field(() => MergeSearchKeep, { nullable: true, description: "Default NONE." }) keep?: string;
  @Field(() => Int, { nullable: true, description: "TOP_K: how many (default 3)." }) topK?: number;
  @Field(() => MergeSearchOutputInput, { nullable: true }) output?: MergeSearchOutputInput;
}

@ObjectType({ description: "One scored candidate: a single model, or a merge given as a startMerge input." })
export class MergeSearchCandidate {
  @Field({ description: "What its output tensors are made of (anchor structure and per-tensor model weights), hashed." }) key!: string;
  @Field(() => Int, { description: "Position in the plan." }) position!: number;
  @Field(() => Int, { description: "Rank in the order asked for (1 = best)." }) rank!: number;
  @Field(() => GraphQLJSONObject, { description: "{ anchorId, modelIds, method, schedule, weights, params, baseModelId }: a startMerge input; a single model has no modelIds." }) recipe!: Record<string, unknown>;
  @Field({ description: "A pool model alone." }) isSingle!: boolean;
  @Field(() => Float, { nullable: true }) objective!: number | null;
  @Field(() => Float, { nullable: true, description: "The audit dataset's primary metric (never used to choose)." }) audit!: number | null;
  @Field(() => Float) seconds!: number;
  @Field(() => String, { nullable: true, description: "The process that scored it (host:pid): the search's owner or a worker that joined it; null on rows from before it was recorded." }) worker!: string | null;
}

@ObjectType()
export class MergeSearchCandidateEdge {
  @Field() cursor!: string;
  @Field(() => MergeSearchCandidate) node!: MergeSearchCandidate;
}

@ObjectType()
export class MergeSearchCandidateConnection {
  @Field(() => [MergeSearchCandidateEdge]) edges!: MergeSearchCandidateEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
  @Field(() => Int) totalCount!: number;
}

@ObjectType({ description: "A search over merges and single models, ranked by an objective; see startMergeSearch." })
export class MergeSearch {
  @Field(() => ID) id!: string;
  @Field(() => GraphQLJSONObject, { description: "The resolved input, its candidate plan and CONSISTENCY's draws." }) settings!: Record<string, unknown>;
  @Field(() => Int, { description: "Candidates in the plan, after the budget cut (EVOLUTION: the grid's plus the budget left to CMA-ES, an upper bound)." }) planned!: number;
  @Field({ description: "The budget left candidates out (maxCandidates, or maxSeconds once run)." }) truncated!: boolean;
  @Field() createdAt!: Date;
  @Field(() => Date, { nullable: true }) finishedAt!: Date | null;
  jobId!: string;
  result!: unknown;
}

@ObjectType()
export class MergeSearchConnection {
  @Field(() => [MergeSearchEdge]) edges!: MergeSearchEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
  @Field(() => Int) totalCount!: number;
}

@ObjectType()
export class MergeSearchEdge {
  @Field() cursor!: string;
  @Field(() => MergeSearch) node!: MergeSearch;
}
