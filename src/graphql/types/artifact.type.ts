import { Field, Float, ID, ObjectType } from "type-graphql";
import { GraphQLSafeInt } from "graphql-scalars";
import { PageInfo } from "./pageInfo.type";
import { Model } from "./model.type";
import { Artifact } from "./structure.type";

@ObjectType({ description: "A blob in the artifact store, registered (an Artifact row references it) or not (an upload nobody registered)." })
export class StoredArtifact {
  @Field() sha256!: string;
  @Field(() => GraphQLSafeInt) sizeBytes!: number;
  @Field({ description: "When the blob was stored (storing the same bytes again renews it in the file store)." }) storedAt!: Date;
  @Field(() => Float, { description: "Seconds since storedAt; unreferenced blobs older than LAYERMERGE_UPLOAD_TTL are swept." }) ageSeconds!: number;
  @Field({ description: "True when an Artifact row references it (models keep theirs, soft-deleted ones too)." }) referenced!: boolean;
  @Field(() => Artifact, { nullable: true }) artifact!: Artifact | null;
  @Field(() => [Model], { description: "Models registered with these bytes, soft-deleted ones included." }) models!: Model[];
}

@ObjectType()
export class StoredArtifactEdge {
  @Field() cursor!: string;
  @Field(() => StoredArtifact) node!: StoredArtifact;
}

@ObjectType({ description: "Stored blobs in sha256 order (no totalCount: counting would list the whole store)." })
export class StoredArtifactConnection {
  @Field(() => [StoredArtifactEdge]) edges!: StoredArtifactEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

@ObjectType()
export class DeletedArtifact {
  @Field(() => ID) sha256!: string;
  @Field(() => GraphQLSafeInt) sizeBytes!: number;
}
