import { Field, Float, ID, Int, ObjectType } from "type-graphql";
import { GraphQLSafeInt } from "graphql-scalars";

@ObjectType({ description: "Similarity of one group (module prefix of the anchor) of the compared tensors." })
export class GroupSimilarity {
  @Field() prefix!: string;
  @Field(() => Int, { description: "Compared (shared parameter) tensors of the group." }) tensorCount!: number;
  @Field(() => GraphQLSafeInt) parameterCount!: number;
  @Field(() => Float, { nullable: true, description: "Cosine similarity (float64) of the group's compared tensors, concatenated; null when a side is all zeros." })
  cosine!: number | null;
  @Field(() => Float, { nullable: true, description: "Cosine similarity of both models' differences from the ancestor over the group; null without an ancestor or when a difference is zero." })
  ancestorDeltaCosine!: number | null;
}

@ObjectType({ description: "How alike two models' weights are, over the parameters they share (the ones a merge averages)." })
export class CandidateSimilarity {
  @Field(() => Float, { nullable: true, description: "Cosine similarity (float64) of the anchor's and the candidate's shared tensors, concatenated; null when a side is all zeros." })
  cosine!: number | null;
  @Field(() => ID, { nullable: true, description: "The nearest common ancestor with weights (over any lineage relation) that holds every compared tensor." })
  ancestorId!: string | null;
  @Field(() => Float, { nullable: true, description: "Cosine similarity of the two models' differences from the ancestor's weights (task vectors); null without an ancestor." })
  ancestorDeltaCosine!: number | null;
  @Field(() => [GroupSimilarity]) groups!: GroupSimilarity[];
  @Field(() => Int) comparedTensorCount!: number;
  @Field(() => GraphQLSafeInt) comparedParameterCount!: number;
  @Field() computedAt!: Date;
}
