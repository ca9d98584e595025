import { Field, ID, InputType, ObjectType } from "type-graphql";

@ObjectType({ description: "A backbone family; parameterPrefix identifies its tensors inside models." })
export class Backbone {
  @Field(() => ID) id!: string;
  @Field() name!: string;
  @Field(() => String, { nullable: true }) family!: string | null;
  @Field(() => String, { nullable: true, description: "e.g. backbone. — tensors whose names start with it belong to the backbone." }) parameterPrefix!: string | null;
  @Field() createdAt!: Date;
  @Field() updatedAt!: Date;
}

@InputType()
export class CreateBackboneInput {
  @Field() name!: string;
  @Field({ nullable: true }) family?: string;
  @Field({ nullable: true }) parameterPrefix?: string;
}

@InputType()
export class UpdateBackboneInput {
  @Field({ nullable: true }) name?: string;
  @Field(() => String, { nullable: true }) family?: string | null;
  @Field(() => String, { nullable: true }) parameterPrefix?: string | null;
}
