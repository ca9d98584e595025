import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, UseMiddleware } from "type-graphql";
import { TakeTurn } from "../takeTurns";
import type { GraphQLContext } from "../context";
import { AddLineageEdgeInput, LineageEdge, LineageGraph } from "../types/lineage.type";
import { Model } from "../types/model.type";
import { LineageDirection, LineageRelation, Role } from "../types/enums";

@Resolver(() => LineageEdge)
export class LineageResolver {
  @UseMiddleware(TakeTurn)
  @Query(() => LineageGraph, { description: "Ancestors and/or descendants within depth hops (default 3, at most 50) over the given relations (default all)." })
  lineage(
    @Arg("modelId", () => ID) modelId: string,
    @Ctx() ctx: GraphQLContext,
    @Arg("direction", () => LineageDirection, { nullable: true, defaultValue: LineageDirection.BOTH }) direction: LineageDirection,
    @Arg("depth", () => Int, { nullable: true }) depth?: number,
    @Arg("relations", () => [LineageRelation], { nullable: true }) relations?: LineageRelation[],
  ) {
    return ctx.services.lineage.graph({ modelId, direction, depth, relations }, ctx.loaders);
  }

  @FieldResolver(() => Model)
  parent(@Root() edge: LineageEdge, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.model.load(edge.parentId);
  }

  @FieldResolver(() => Model)
  child(@Root() edge: LineageEdge, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.model.load(edge.childId);
  }

  @Authorized(Role.WRITER)
  @Mutation(() => LineageEdge, { description: "Refuses self-edges and edges that would close a cycle." })
  addLineageEdge(@Arg("input") input: AddLineageEdgeInput, @Ctx() ctx: GraphQLContext) {
    return ctx.services.lineage.addEdge(input);
  }

  @Authorized(Role.WRITER)
  @Mutation(() => LineageEdge, { description: "Edges recorded by a merge cannot be removed." })
  removeLineageEdge(@Arg("id", () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.lineage.removeEdge(id);
  }
}
