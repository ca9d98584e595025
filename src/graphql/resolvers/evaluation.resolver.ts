import { Arg, Authorized, Ctx, FieldResolver, Float, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import type { GraphQLContext } from "../context";
import { Evaluation, LeaderboardConnection, LeaderboardEntry, MergeGain, ParentGain, RecordEvaluationInput, StartEvaluationInput } from "../types/evaluation.type";
import { Job } from "../types/job.type";
import { Model } from "../types/model.type";
import { Dataset } from "../types/dataset.type";
import { Merge } from "../types/merge.type";
import { Role } from "../types/enums";

@Resolver(() => Evaluation)
export class EvaluationResolver {
  @Query(() => Evaluation, { nullable: true })
  evaluation(@Arg("id", () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.evaluations.get(id);
  }

  @Query(() => LeaderboardConnection, { description: "Models ranked by their canonical score on the dataset (deleted models left out)." })
  leaderboard(
    @Arg("datasetId", () => ID) datasetId: string,
    @Ctx() ctx: GraphQLContext,
    @Arg("first", () => Int, { nullable: true }) first?: number,
    @Arg("after", () => String, { nullable: true }) after?: string,
  ) {
    return ctx.services.evaluations.leaderboard({ datasetId, first, after });
  }

  @Authorized(Role.WRITER)
  @Mutation(() => Job, { description: "Queues an evaluation; the same model, dataset and settings return the stored result unless force: true." })
  startEvaluation(@Arg("input") input: StartEvaluationInput, @Ctx() ctx: GraphQLContext) {
    return ctx.services.evaluations.start(input);
  }

  @Authorized(Role.WRITER)
  @Mutation(() => Evaluation, { description: "Stores a score computed elsewhere (marked external, with its source); it becomes the model's score on the dataset." })
  recordEvaluation(@Arg("input") input: RecordEvaluationInput, @Ctx() ctx: GraphQLContext) {
    return ctx.services.evaluations.record(input);
  }

  @FieldResolver(() => Model)
  model(@Root() evaluation: Evaluation, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.model.load(evaluation.modelId);
  }

  @FieldResolver(() => Dataset)
  dataset(@Root() evaluation: Evaluation, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.dataset.load(evaluation.datasetId);
  }

  @FieldResolver(() => Job, { nullable: true })
  job(@Root() evaluation: Evaluation, @Ctx() ctx: GraphQLContext) {
    return evaluation.jobId ? ctx.loaders.job.load(evaluation.jobId) : null;
  }
}

@Resolver(() => LeaderboardEntry)
export class LeaderboardEntryResolver {
  @FieldResolver(() => Model)
  model(@Root() entry: LeaderboardEntry, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.model.load(entry.modelId);
  }

  @FieldResolver(() => Evaluation)
  evaluation(@Root() entry: LeaderboardEntry, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.evaluation.load(entry.evaluationId);
  }

  @FieldResolver(() => Merge, { nullable: true, description: "Set when the model is a merge: its recipe (and gain)." })
  merge(@Root() entry: LeaderboardEntry, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.mergeByOutput.load(entry.modelId);
  }
}

@Resolver(() => ParentGain)
export class ParentGainResolver {
  @FieldResolver(() => Model)
  model(@Root() gain: ParentGain, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.model.load(gain.modelId);
  }
}

@Resolver(() => Model)
export class ModelEvaluationResolver {
  @FieldResolver(() => Float, { nullable: true, description: "The model's canonical score on the dataset: its latest full-split, default-settings evaluation (or recorded external score)." })
  score(@Root() model: Model, @Arg("datasetId", () => ID) datasetId: string, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.score.load(`${model.id}|${datasetId}`);
  }

  @FieldResolver(() => [Evaluation], { description: "Newest first." })
  evaluations(@Root() model: Model, @Ctx() ctx: GraphQLContext, @Arg("datasetId", () => ID, { nullable: true }) datasetId?: string) {
    return ctx.services.evaluations.forModel(model.id, datasetId);
  }
}

@Resolver(() => Merge)
export class MergeGainResolver {
  @FieldResolver(() => MergeGain, { description: "The merged model's score minus each parent's and minus the best parent's on the dataset." })
  gain(@Root() merge: Merge, @Arg("datasetId", () => ID) datasetId: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.evaluations.gain(merge, datasetId, ctx.loaders);
  }
}

@Resolver(() => Job)
export class JobEvaluationResolver {
  @FieldResolver(() => Evaluation, { nullable: true, description: "The evaluation an EVALUATE job stored." })
  evaluation(@Root() job: Job, @Ctx() ctx: GraphQLContext) {
    const id = (job.result as { evaluationId?: string } | null)?.evaluationId;
    return id ? ctx.loaders.evaluation.load(id) : null;
  }
}
