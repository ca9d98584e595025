import { Field, ID, InputType, ObjectType } from "type-graphql";
import { PrimaryMetric, TaskKind } from "./enums";

@ObjectType({ description: "A segmentation task and the metric that ranks models on it." })
export class Task {
  @Field(() => ID) id!: string;
  @Field({ description: "Unique slug, e.g. semantic-cityscapes." }) key!: string;
  @Field() name!: string;
  @Field(() => TaskKind) kind!: TaskKind;
  @Field(() => PrimaryMetric) primaryMetric!: PrimaryMetric;
  @Field() createdAt!: Date;
  @Field() updatedAt!: Date;
}

@InputType()
export class CreateTaskInput {
  @Field({ description: "Unique lowercase slug." }) key!: string;
  @Field() name!: string;
  @Field(() => TaskKind) kind!: TaskKind;
  @Field(() => PrimaryMetric) primaryMetric!: PrimaryMetric;
}

@InputType()
export class UpdateTaskInput {
  @Field({ nullable: true }) key?: string;
  @Field({ nullable: true }) name?: string;
  @Field(() => TaskKind, { nullable: true }) kind?: TaskKind;
  @Field(() => PrimaryMetric, { nullable: true }) primaryMetric?: PrimaryMetric;
}
