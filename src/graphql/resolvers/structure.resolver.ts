import { Arg, Authorized, Ctx, FieldResolver, Float, ID, Int, Mutation, Query, Resolver, Root, UseMiddleware } from "type-graphql";
import { TakeTurn } from "../takeTurns";
import type { GraphQLContext } from "../context";
import { Model } from "../types/model.type";
import {
  MergeCandidateConnection, RegisterModelInput, Structure, StructureComparison, StructureTensorConnection,
} from "../types/structure.type";
import { CandidateOrder, Role, TensorMatchingChoice } from "../types/enums";

@Resolver(() => Structure)
export class StructureResolver {
  @UseMiddleware(TakeTurn)
  @FieldResolver(() => StructureTensorConnection, { description: "Tensors in layer order; `first` defaults to 100, at most 1000." })
  tensors(
    @Root() structure: Structure,
    @Ctx() ctx: GraphQLContext,
    @Arg("first", () => Int, { nullable: true }) first?: number,
    @Arg("after", () => String, { nullable: true }) after?: string,
    @Arg("group", () => String, { nullable: true }) group?: string,
    @Arg("nameContains", () => String, { nullable: true, description: "Substring of the tensor name (case-insensitive)." }) nameContains?: string,
  ) {
    return ctx.services.structures.tensors(structure.id, { first, after, group, nameContains });
  }

  @UseMiddleware(TakeTurn)
  @Query(() => MergeCandidateConnection, { description: "Models that share parameters with the anchor, by shared fraction or, with orderBy: SIMILARITY, by the cosine similarity of their shared weights (first defaults to 20, at most 200)." })
  mergeCandidates(
    @Arg("anchorId", () => ID) anchorId: string,
    @Ctx() ctx: GraphQLContext,
    @Arg("minSharedFraction", () => Float, { nullable: true, defaultValue: 0.5 }) minSharedFraction: number,
    @Arg("sameTask", { nullable: true, defaultValue: false }) sameTask: boolean,
    @Arg("includeIdentical", { nullable: true, defaultValue: false, description: "Also list models registered from the anchor's own file (identicalWeights: true); they are left out, and not counted, by default." })
    includeIdentical: boolean,
    @Arg("first", () => Int, { nullable: true }) first?: number,
    @Arg("after", () => String, { nullable: true }) after?: string,
    @Arg("orderBy", () => CandidateOrder, { nullable: true, defaultValue: CandidateOrder.SHARED_FRACTION }) orderBy?: CandidateOrder,
    @Arg("matching", () => TensorMatchingChoice, { nullable: true, defaultValue: TensorMatchingChoice.AUTO }) matching?: TensorMatchingChoice,
  ) {
    return ctx.services.candidates.candidates({ anchorId, minSharedFraction, sameTask, includeIdentical, first, after, orderBy, matching });
  }

  @UseMiddleware(TakeTurn)
  @Query(() => StructureComparison)
  compareStructures(
    @Arg("aId", () => ID) aId: string,
    @Arg("bId", () => ID) bId: string,
    @Ctx() ctx: GraphQLContext,
    @Arg("cap", () => Int, { nullable: true, defaultValue: 100, description: "Most items per list (totals are always complete)." }) cap: number,
    @Arg("matching", () => TensorMatchingChoice, { nullable: true, defaultValue: TensorMatchingChoice.AUTO }) matching?: TensorMatchingChoice,
  ) {
    return ctx.services.structures.compare(aId, bId, cap, matching);
  }

  @Authorized(Role.WRITER)
  @Mutation(() => Model, { description: "Registers a model from its weights; the file is parsed off the event loop and its structure recorded." })
  registerModel(@Arg("input") input: RegisterModelInput, @Ctx() ctx: GraphQLContext) {
    return ctx.services.registration.register(input);
  }
}
