import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from "type-graphql";
import type { GraphQLContext } from "../context";
import { DeletedArtifact, StoredArtifact, StoredArtifactConnection } from "../types/artifact.type";
import { Role } from "../types/enums";

@Resolver(() => StoredArtifact)
export class ArtifactResolver {
  @Authorized(Role.ADMIN)
  @Query(() => StoredArtifactConnection, { description: "Blobs in the artifact store with their size, age and the models that reference them (ADMIN)." })
  artifacts(
    @Ctx() ctx: GraphQLContext,
    @Arg("referenced", () => Boolean, { nullable: true, description: "true: only blobs an Artifact row references; false: only unregistered uploads; omitted: all." }) referenced?: boolean,
    @Arg("first", () => Int, { nullable: true, description: "Default 50, at most 500." }) first?: number,
    @Arg("after", () => String, { nullable: true }) after?: string,
  ) {
    return ctx.services.artifacts.list({ referenced, first, after });
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => DeletedArtifact, { description: "Deletes an unreferenced blob now (ADMIN); CONFLICT when a model references it, NOT_FOUND when it is not stored." })
  deleteArtifact(@Arg("sha256", () => ID) sha256: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.artifacts.delete(sha256);
  }
}
