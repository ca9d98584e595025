import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from "type-graphql";
import type { GraphQLContext } from "../context";
import { CreateTaskInput, Task, UpdateTaskInput } from "../types/task.type";
import { Role } from "../types/enums";

@Resolver(() => Task)
export class TaskResolver {
  @Query(() => Task, { nullable: true })
  task(@Arg("id", () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.tasks.get(id);
  }

  @Query(() => [Task])
  tasks(@Ctx() ctx: GraphQLContext) {
    return ctx.services.tasks.list();
  }

  @Authorized(Role.WRITER)
  @Mutation(() => Task)
  createTask(@Arg("input") input: CreateTaskInput, @Ctx() ctx: GraphQLContext) {
    return ctx.services.tasks.create(input);
  }

  @Authorized(Role.WRITER)
  @Mutation(() => Task)
  updateTask(@Arg("id", () => ID) id: string, @Arg("input") input: UpdateTaskInput, @Ctx() ctx: GraphQLContext) {
    return ctx.services.tasks.update(id, input);
  }

  @Authorized(Role.WRITER)
  @Mutation(() => Task, { description: "Refused while models or datasets use the task." })
  deleteTask(@Arg("id", () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.tasks.delete(id);
  }
}
