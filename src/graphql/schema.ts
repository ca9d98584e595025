import "reflect-metadata";
import { GraphQLSchema, lexicographicSortSchema, printSchema } from "graphql";
import { buildSchema } from "type-graphql";
import { createPubSub } from "@graphql-yoga/subscription";
import { authChecker } from "./authChecker";
import { installDirectResolvers } from "./directResolvers";
import { BackboneResolver } from "./resolvers/backbone.resolver";
import { DatasetResolver } from "./resolvers/dataset.resolver";
import { LineageResolver } from "./resolvers/lineage.resolver";
import { InferenceContractResolver } from "./resolvers/inference.resolver";
import { ModelResolver } from "./resolvers/model.resolver";
import { TaskResolver } from "./resolvers/task.resolver";
import { TokenResolver } from "./resolvers/token.resolver";
import { StructureResolver } from "./resolvers/structure.resolver";
import { CandidateSimilarityResolver, MergeCandidateSimilarityResolver } from "./resolvers/similarity.resolver";
import { ArtifactResolver } from "./resolvers/artifact.resolver";
import { JobMergeSearchResolver, MergeSearchLinkResolver, MergeSearchResolver } from "./resolvers/mergeSearch.resolver";
import { JobResolver, MergeInputResolver, MergeResolver, ModelMergeResolver } from "./resolvers/merge.resolver";
import {
  EvaluationResolver, JobEvaluationResolver, LeaderboardEntryResolver, MergeGainResolver, ModelEvaluationResolver, ParentGainResolver,
} from "./resolvers/evaluation.resolver";

export const resolvers = [TaskResolver, DatasetResolver, BackboneResolver, ModelResolver, LineageResolver, TokenResolver, StructureResolver, MergeResolver, MergeInputResolver, JobResolver, ModelMergeResolver,
  EvaluationResolver, LeaderboardEntryResolver, ParentGainResolver, ModelEvaluationResolver, MergeGainResolver, JobEvaluationResolver,
  InferenceContractResolver, ArtifactResolver, MergeCandidateSimilarityResolver, CandidateSimilarityResolver, MergeSearchResolver, JobMergeSearchResolver, MergeSearchLinkResolver] as const;

let cached: GraphQLSchema | undefined;

/** The executable schema (built once per process; type-graphql metadata is global). */
export async function buildAppSchema(): Promise<GraphQLSchema> {
  if (cached) return cached;
  const schema = await buildSchema({
    resolvers: [...resolvers],
    authChecker,
    authMode: "error",
    // jobUpdated brings its own subscribe function (JobEvents, bridged over Redis when
    // distributed); type-graphql still insists on a PubSub, so it gets an in-memory one.
    pubSub: createPubSub(),
    // Inputs are checked by the services, which name the offending field; class-validator would
    // be a second, divergent set of rules.
    validate: false,
  });
  installDirectResolvers(schema, resolvers);
  cached = schema;
  return cached;
}

/** The SDL committed as schema.graphql (sorted, so reviews show real changes only). */
export async function printAppSchema(): Promise<string> {
  return printSchema(lexicographicSortSchema(await buildAppSchema())) + "\n";
}
