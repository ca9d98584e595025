import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from "type-graphql";
import type { GraphQLContext } from "../context";
import { ApiToken, CreateApiTokenInput, CreatedApiToken, Viewer } from "../types/token.type";
import { Role } from "../types/enums";

@Resolver(() => ApiToken)
export class TokenResolver {
  @Query(() => Viewer, { description: "The role this request acts with." })
  viewer(@Ctx() ctx: GraphQLContext) {
    return ctx.viewer;
  }

  @Authorized(Role.ADMIN)
  @Query(() => [ApiToken])
  apiTokens(@Ctx() ctx: GraphQLContext, @Arg("includeRevoked", { nullable: true, defaultValue: false }) includeRevoked: boolean) {
    return ctx.services.tokens.list(includeRevoked);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => CreatedApiToken)
  createApiToken(@Arg("input") input: CreateApiTokenInput, @Ctx() ctx: GraphQLContext) {
    return ctx.services.tokens.createForApi(input);
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => ApiToken)
  revokeApiToken(@Arg("id", () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.tokens.revoke(id);
  }
}
