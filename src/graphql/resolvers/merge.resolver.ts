import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription, UseMiddleware } from "type-graphql";
import { TakeTurn } from "../takeTurns";
import type { GraphQLContext } from "../context";
import { Job, JobConnection, JobKind, JobStatus, JobUpdate } from "../types/job.type";
import { Merge, MergeInputInfo, MergeMethodInfo, MergePlan, ModelRefInput, StartMergeInput } from "../types/merge.type";
import { Model } from "../types/model.type";
import { Role } from "../types/enums";

@Resolver(() => Merge)
export class MergeResolver {
  @UseMiddleware(TakeTurn)
  @Query(() => MergePlan, { description: "Preview a merge without running it: per-layer weights, merged/copied tensors, output size." })
  mergePlan(@Arg("input") input: StartMergeInput, @Ctx() ctx: GraphQLContext) {
    return ctx.services.merges.preview(input);
  }

  @Query(() => [MergeMethodInfo])
  mergeMethods(@Ctx() ctx: GraphQLContext) {
    return ctx.services.merges.methods();
  }

  @Authorized(Role.WRITER)
  @Mutation(() => Job, { description: "Validates the merge, then queues it and returns its job at once." })
  startMerge(@Arg("input") input: StartMergeInput, @Ctx() ctx: GraphQLContext) {
    return ctx.services.merges.start(input);
  }

  @Authorized(Role.WRITER)
  @Mutation(() => Job, {
    description:
      "Runs a mergekit config (as Merge.recipeYaml writes it): each model named by a modelRefs entry, else by its own text as name@version or an id. " +
      "The same recipe returns the existing merge.",
  })
  startMergeFromRecipe(
    @Arg("recipeYaml") recipeYaml: string,
    @Arg("modelRefs", () => [ModelRefInput], { nullable: true }) modelRefs: ModelRefInput[] | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.services.recipes.start(recipeYaml, modelRefs);
  }

  @FieldResolver(() => String, {
    nullable: true,
    description:
      "The recipe as a mergekit YAML config (merge_method, base_model, models with their per-layer weight lists and parameters) with a layermerge: block " +
      "for the anchor, the schedule, the layer order and DARE's seed; null for a method mergekit has no equivalent of.",
  })
  recipeYaml(@Root() merge: Merge, @Ctx() ctx: GraphQLContext) {
    return ctx.services.recipes.recipeYaml(merge, ctx.loaders);
  }

  @FieldResolver(() => Model)
  anchor(@Root() merge: Merge, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.model.load(merge.anchorId);
  }

  @FieldResolver(() => Model, { nullable: true })
  outputModel(@Root() merge: Merge, @Ctx() ctx: GraphQLContext) {
    return merge.outputModelId ? ctx.loaders.model.load(merge.outputModelId) : null;
  }

  @FieldResolver(() => [MergeInputInfo], { description: "Anchor first, then contributors in order, then the base." })
  inputs(@Root() merge: Merge, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.mergeInputs.load(merge.id);
  }

  @FieldResolver(() => Job, { nullable: true })
  job(@Root() merge: Merge, @Ctx() ctx: GraphQLContext) {
    return merge.jobId ? ctx.loaders.job.load(merge.jobId) : null;
  }
}

@Resolver(() => MergeInputInfo)
export class MergeInputResolver {
  @FieldResolver(() => Model)
  model(@Root() input: MergeInputInfo, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.model.load(input.modelId);
  }
}

@Resolver(() => Job)
export class JobResolver {
  @Query(() => Job, { nullable: true })
  job(@Arg("id", () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.jobs.get(id);
  }

  @Query(() => JobConnection, { description: "Newest first." })
  jobs(
    @Ctx() ctx: GraphQLContext,
    @Arg("status", () => [JobStatus], { nullable: true }) status?: string[],
    @Arg("kind", () => JobKind, { nullable: true }) kind?: string,
    @Arg("first", () => Int, { nullable: true }) first?: number,
    @Arg("after", () => String, { nullable: true }) after?: string,
  ) {
    return ctx.services.jobs.list({ status, kind, first, after });
  }

  @Subscription(() => JobUpdate, {
    description: "The job's current state, then every change (status, progress, message) until it ends; over graphql-ws at /graphql.",
    subscribe: ({ args, context }) => (context as GraphQLContext).services.jobs.updates(args.id),
  })
  jobUpdated(@Root() update: JobUpdate, @Arg("id", () => ID) _id: string): JobUpdate {
    return update;
  }

  @Authorized(Role.WRITER)
  @Mutation(() => Job, { description: "Stops a queued or running job; a cancelled merge leaves no artifact and no model." })
  cancelJob(@Arg("id", () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.jobs.cancel(id);
  }

  @FieldResolver(() => Model, { nullable: true, description: "The model a job produced (a merge's output)." })
  model(@Root() job: Job, @Ctx() ctx: GraphQLContext) {
    const id = (job.result as { modelId?: string } | null)?.modelId;
    return id ? ctx.loaders.model.load(id) : null;
  }

  @FieldResolver(() => Boolean, {
    description:
      "True when the job returned an existing result instead of doing the work: an identical merge recipe (its model keeps its own name, whatever output name was asked for) or a stored evaluation with the same settings.",
  })
  reused(@Root() job: Job): boolean {
    return (job.result as { reused?: unknown } | null)?.reused === true;
  }

  @FieldResolver(() => Merge, { nullable: true })
  merge(@Root() job: Job, @Ctx() ctx: GraphQLContext) {
    const id = (job.result as { mergeId?: string } | null)?.mergeId;
    return id ? ctx.loaders.merge.load(id) : null;
  }
}

@Resolver(() => Model)
export class ModelMergeResolver {
  @FieldResolver(() => Merge, { nullable: true, description: "For a merged model: how it was made." })
  merge(@Root() model: Model, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.mergeByOutput.load(model.id);
  }
}
