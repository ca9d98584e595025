import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import type { GraphQLContext } from "../context";
import { CreateModelInput, Model, ModelConnection, ModelOrderBy, ModelWhere, UpdateModelInput } from "../types/model.type";
import { Task } from "../types/task.type";
import { Backbone } from "../types/backbone.type";
import { Dataset } from "../types/dataset.type";
import { LineageEdge } from "../types/lineage.type";
import { Role } from "../types/enums";
import { Artifact, Structure } from "../types/structure.type";

@Resolver(() => Model)
export class ModelResolver {
  @Query(() => Model, { nullable: true, description: "Also finds soft-deleted models (see deletedAt)." })
  model(@Arg("id", () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.models.get(id);
  }

  @Query(() => ModelConnection)
  models(
    @Ctx() ctx: GraphQLContext,
    @Arg("where", () => ModelWhere, { nullable: true }) where?: ModelWhere,
    @Arg("orderBy", () => ModelOrderBy, { nullable: true, description: "Default CREATED_AT DESC." }) orderBy?: ModelOrderBy,
    @Arg("first", () => Int, { nullable: true, description: "Default 50, at most 500." }) first?: number,
    @Arg("after", () => String, { nullable: true }) after?: string,
    @Arg("includeDeleted", { nullable: true, defaultValue: false }) includeDeleted?: boolean,
  ) {
    return ctx.services.models.list({ where, orderBy, first, after, includeDeleted });
  }

  @FieldResolver(() => Task)
  task(@Root() model: Model, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.task.load(model.taskId);
  }

  @FieldResolver(() => Backbone, { nullable: true })
  backbone(@Root() model: Model, @Ctx() ctx: GraphQLContext) {
    return model.backboneId ? ctx.loaders.backbone.load(model.backboneId) : null;
  }

  @FieldResolver(() => Dataset, { nullable: true })
  sourceDataset(@Root() model: Model, @Ctx() ctx: GraphQLContext) {
    return model.sourceDatasetId ? ctx.loaders.dataset.load(model.sourceDatasetId) : null;
  }

  @FieldResolver(() => Dataset, { nullable: true })
  targetDataset(@Root() model: Model, @Ctx() ctx: GraphQLContext) {
    return model.targetDatasetId ? ctx.loaders.dataset.load(model.targetDatasetId) : null;
  }

  @FieldResolver(() => [String])
  async tags(@Root() model: Model, @Ctx() ctx: GraphQLContext) {
    return (await ctx.loaders.tags.load(model.id)).map((t) => t.tag);
  }

  @FieldResolver(() => [LineageEdge], { description: "Edges to the models this one derives from." })
  parentEdges(@Root() model: Model, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.parentEdges.load(model.id);
  }

  @FieldResolver(() => [LineageEdge], { description: "Edges to the models derived from this one." })
  childEdges(@Root() model: Model, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.childEdges.load(model.id);
  }

  @FieldResolver(() => [Model], { description: "Models this one derives from (any relation)." })
  async parents(@Root() model: Model, @Ctx() ctx: GraphQLContext) {
    return loadEnds(ctx, await ctx.loaders.parentEdges.load(model.id), "parentId");
  }

  @FieldResolver(() => [Model], { description: "Models derived from this one (any relation)." })
  async children(@Root() model: Model, @Ctx() ctx: GraphQLContext) {
    return loadEnds(ctx, await ctx.loaders.childEdges.load(model.id), "childId");
  }

  @FieldResolver(() => Artifact, { nullable: true, description: "The model's weights, when registered from a file." })
  artifact(@Root() model: Model, @Ctx() ctx: GraphQLContext) {
    return model.artifactId ? ctx.loaders.artifact.load(model.artifactId) : null;
  }

  @FieldResolver(() => Structure, { nullable: true, description: "The parameter structure read from the weights." })
  structure(@Root() model: Model, @Ctx() ctx: GraphQLContext) {
    return model.structureId ? ctx.loaders.structure.load(model.structureId) : null;
  }

  @FieldResolver(() => Model, { nullable: true, description: "The ONNX model a checkpoint is evaluated through (graphModelId)." })
  graphModel(@Root() model: Model, @Ctx() ctx: GraphQLContext) {
    return model.graphModelId ? ctx.loaders.model.load(model.graphModelId) : null;
  }

  @Authorized(Role.WRITER)
  @Mutation(() => Model)
  createModel(@Arg("input") input: CreateModelInput, @Ctx() ctx: GraphQLContext) {
    return ctx.services.models.create(input);
  }

  @Authorized(Role.WRITER)
  @Mutation(() => Model)
  updateModel(@Arg("id", () => ID) id: string, @Arg("input") input: UpdateModelInput, @Ctx() ctx: GraphQLContext) {
    return ctx.services.models.update(id, input);
  }

  @Authorized(Role.WRITER)
  @Mutation(() => Model, { description: "Soft delete: hidden from lists, name + version stay taken, artifact kept. Refused while live children derive from it." })
  deleteModel(@Arg("id", () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.models.delete(id);
  }
}

async function loadEnds(ctx: GraphQLContext, edges: Array<{ parentId: string; childId: string }>, end: "parentId" | "childId") {
  const ids = [...new Set(edges.map((e) => e[end]))];
  return (await ctx.loaders.model.loadMany(ids)).filter((m): m is NonNullable<typeof m> & object => m != null && !(m instanceof Error));
}
