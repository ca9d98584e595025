import { Field, Float, ID, InputType, ObjectType } from "type-graphql";
import { LineageRelation } from "./enums";
import { Model } from "./model.type";

@ObjectType({ description: "parent → child: the child derives from the parent." })
export class LineageEdge {
  @Field(() => ID) id!: string;
  @Field(() => ID) parentId!: string;
  @Field(() => ID) childId!: string;
  @Field(() => LineageRelation) relation!: LineageRelation;
  @Field(() => Float, { nullable: true, description: "e.g. the parent's mean effective weight in a merge." }) weight!: number | null;
  @Field() createdAt!: Date;
  mergeId!: string | null;
}

@ObjectType({ description: "A lineage subgraph for dashboards: the models and the edges among them." })
export class LineageGraph {
  @Field(() => [Model]) nodes!: Model[];
  @Field(() => [LineageEdge]) edges!: LineageEdge[];
}

@InputType()
export class AddLineageEdgeInput {
  @Field(() => ID) parentId!: string;
  @Field(() => ID) childId!: string;
  @Field(() => LineageRelation) relation!: LineageRelation;
  @Field(() => Float, { nullable: true }) weight?: number;
}
