import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import type { GraphQLContext } from "../context";
import { CreateDatasetInput, Dataset, DatasetConnection, DatasetOrderBy, DatasetWhere, UpdateDatasetInput } from "../types/dataset.type";
import { Task } from "../types/task.type";
import { Role } from "../types/enums";
import { GraphQLSafeInt } from "graphql-scalars";

@Resolver(() => Dataset)
export class DatasetResolver {
  @Query(() => Dataset, { nullable: true })
  dataset(@Arg("id", () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.datasets.get(id);
  }

  @Query(() => DatasetConnection)
  datasets(
    @Ctx() ctx: GraphQLContext,
    @Arg("where", () => DatasetWhere, { nullable: true }) where?: DatasetWhere,
    @Arg("orderBy", () => DatasetOrderBy, { nullable: true, description: "Default CREATED_AT DESC." }) orderBy?: DatasetOrderBy,
    @Arg("first", () => Int, { nullable: true, description: "Default 50, at most 500." }) first?: number,
    @Arg("after", () => String, { nullable: true }) after?: string,
  ) {
    return ctx.services.datasets.list({ where, orderBy, first, after });
  }

  @FieldResolver(() => Task)
  task(@Root() dataset: Dataset, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.task.load(dataset.taskId);
  }

  @FieldResolver(() => GraphQLSafeInt, { nullable: true, description: "Bytes of the split's files, once checked." })
  sizeBytes(@Root() dataset: { sizeBytes: bigint | number | null }) {
    return dataset.sizeBytes == null ? null : Number(dataset.sizeBytes);
  }

  @Authorized(Role.WRITER)
  @Mutation(() => Dataset)
  createDataset(@Arg("input") input: CreateDatasetInput, @Ctx() ctx: GraphQLContext) {
    return ctx.services.datasets.create(input);
  }

  @Authorized(Role.WRITER)
  @Mutation(() => Dataset)
  updateDataset(@Arg("id", () => ID) id: string, @Arg("input") input: UpdateDatasetInput, @Ctx() ctx: GraphQLContext) {
    return ctx.services.datasets.update(id, input);
  }

  @Authorized(Role.WRITER)
  @Mutation(() => Dataset, { description: "Refused while models or evaluations refer to the dataset." })
  deleteDataset(@Arg("id", () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.datasets.delete(id);
  }
}
