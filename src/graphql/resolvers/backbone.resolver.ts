import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from "type-graphql";
import type { GraphQLContext } from "../context";
import { Backbone, CreateBackboneInput, UpdateBackboneInput } from "../types/backbone.type";
import { Role } from "../types/enums";

@Resolver(() => Backbone)
export class BackboneResolver {
  @Query(() => Backbone, { nullable: true })
  backbone(@Arg("id", () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.backbones.get(id);
  }

  @Query(() => [Backbone])
  backbones(@Ctx() ctx: GraphQLContext) {
    return ctx.services.backbones.list();
  }

  @Authorized(Role.WRITER)
  @Mutation(() => Backbone)
  createBackbone(@Arg("input") input: CreateBackboneInput, @Ctx() ctx: GraphQLContext) {
    return ctx.services.backbones.create(input);
  }

  @Authorized(Role.WRITER)
  @Mutation(() => Backbone)
  updateBackbone(@Arg("id", () => ID) id: string, @Arg("input") input: UpdateBackboneInput, @Ctx() ctx: GraphQLContext) {
    return ctx.services.backbones.update(id, input);
  }

  @Authorized(Role.WRITER)
  @Mutation(() => Backbone, { description: "Refused while models use the backbone." })
  deleteBackbone(@Arg("id", () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.backbones.delete(id);
  }
}
