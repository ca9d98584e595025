import { Field, ID, InputType, ObjectType } from "type-graphql";
import { Role } from "./enums";

@ObjectType({ description: "An API token. The secret itself is shown once, at creation." })
export class ApiToken {
  @Field(() => ID) id!: string;
  @Field() name!: string;
  @Field(() => Role) role!: Role;
  @Field({ description: "The first characters of the secret, to tell tokens apart." }) prefix!: string;
  @Field(() => Date, { nullable: true }) expiresAt!: Date | null;
  @Field(() => Date, { nullable: true }) revokedAt!: Date | null;
  @Field(() => Date, { nullable: true }) lastUsedAt!: Date | null;
  @Field() createdAt!: Date;
}

@ObjectType()
export class CreatedApiToken {
  @Field({ description: "Send as 'Authorization: Bearer <token>'. Not retrievable later." }) token!: string;
  @Field(() => ApiToken) apiToken!: ApiToken;
}

@InputType()
export class CreateApiTokenInput {
  @Field() name!: string;
  @Field(() => Role) role!: Role;
  @Field({ nullable: true, description: "Lifetime like 30d, 12h, 2w; none = no expiry." }) expiresIn?: string;
}

@ObjectType({ description: "Who the current request acts as." })
export class Viewer {
  @Field(() => Role) role!: Role;
  @Field() anonymous!: boolean;
  @Field() name!: string;
}
