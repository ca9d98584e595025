import { Field, ID, InputType, Int, ObjectType } from "type-graphql";
import { ModelOrigin, ModelSortField, SortDirection } from "./enums";
import { InferenceContract, InferenceContractInput } from "./inference.type";
import { PageInfo } from "./pageInfo.type";

const GRAPH_MODEL_DOC =
  "A checkpoint's graph (safetensors and other formats without one): an ONNX model of the same task and architecture, typically its export, whose initializers evaluation fills with this model's tensors. Merges inherit the anchor's.";

@ObjectType({ description: "A registered segmentation model. Related objects are field resolvers (batched per request)." })
export class Model {
  @Field(() => ID) id!: string;
  @Field() name!: string;
  @Field() version!: string;
  @Field(() => String, { nullable: true }) description!: string | null;
  @Field(() => String, { nullable: true, description: "e.g. DeepLabV2, SegFormer, Panoptic-DeepLab." }) architecture!: string | null;
  @Field(() => String, { nullable: true, description: "e.g. DACS, DAFormer, HRDA, source-only." }) udaStrategy!: string | null;
  @Field(() => ModelOrigin) origin!: ModelOrigin;
  @Field(() => InferenceContract, { nullable: true }) inference!: InferenceContract | null;
  @Field(() => ID, { nullable: true, description: GRAPH_MODEL_DOC }) graphModelId!: string | null;
  @Field() createdAt!: Date;
  @Field() updatedAt!: Date;
  @Field(() => Date, { nullable: true, description: "Set when the model was (soft) deleted." }) deletedAt!: Date | null;
  taskId!: string;
  backboneId!: string | null;
  sourceDatasetId!: string | null;
  targetDatasetId!: string | null;
  structureId!: string | null;
  artifactId!: string | null;
}

@ObjectType()
export class ModelEdge {
  @Field() cursor!: string;
  @Field(() => Model) node!: Model;
}

@ObjectType()
export class ModelConnection {
  @Field(() => [ModelEdge]) edges!: ModelEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
  @Field(() => Int, { description: "Models matching the filter, all pages." }) totalCount!: number;
}

@InputType()
export class CreateModelInput {
  @Field() name!: string;
  @Field({ nullable: true, description: 'Default "1". Name + version is unique.' }) version?: string;
  @Field({ nullable: true }) description?: string;
  @Field(() => ID) taskId!: string;
  @Field({ nullable: true }) architecture?: string;
  @Field(() => ID, { nullable: true }) backboneId?: string;
  @Field(() => ID, { nullable: true }) sourceDatasetId?: string;
  @Field(() => ID, { nullable: true }) targetDatasetId?: string;
  @Field({ nullable: true }) udaStrategy?: string;
  @Field(() => ModelOrigin, { nullable: true, description: "Default TRAINED." }) origin?: ModelOrigin;
  @Field(() => [String], { nullable: true }) tags?: string[];
  @Field(() => InferenceContractInput, { nullable: true }) inference?: InferenceContractInput;
  @Field(() => ID, { nullable: true, description: GRAPH_MODEL_DOC }) graphModelId?: string;
}

@InputType({ description: "Only the fields given change; null clears an optional field; tags replace the set." })
export class UpdateModelInput {
  @Field({ nullable: true }) name?: string;
  @Field({ nullable: true }) version?: string;
  @Field(() => String, { nullable: true }) description?: string | null;
  @Field(() => ID, { nullable: true }) taskId?: string;
  @Field(() => String, { nullable: true }) architecture?: string | null;
  @Field(() => ID, { nullable: true }) backboneId?: string | null;
  @Field(() => ID, { nullable: true }) sourceDatasetId?: string | null;
  @Field(() => ID, { nullable: true }) targetDatasetId?: string | null;
  @Field(() => String, { nullable: true }) udaStrategy?: string | null;
  @Field(() => ModelOrigin, { nullable: true }) origin?: ModelOrigin;
  @Field(() => [String], { nullable: true }) tags?: string[];
  @Field(() => InferenceContractInput, { nullable: true }) inference?: InferenceContractInput;
  @Field(() => ID, { nullable: true, description: "The checkpoint's graph model (see Model.graphModelId); null clears it." }) graphModelId?: string | null;
}

@InputType({ description: "Filters combine with AND; use AND / OR / NOT for more." })
export class ModelWhere {
  @Field(() => [ModelWhere], { nullable: true }) AND?: ModelWhere[];
  @Field(() => [ModelWhere], { nullable: true }) OR?: ModelWhere[];
  @Field(() => ModelWhere, { nullable: true }) NOT?: ModelWhere;
  @Field(() => [ID], { nullable: true }) ids?: string[];
  @Field(() => ID, { nullable: true }) taskId?: string;
  @Field(() => ID, { nullable: true }) backboneId?: string;
  @Field({ nullable: true }) architecture?: string;
  @Field({ nullable: true }) udaStrategy?: string;
  @Field(() => ModelOrigin, { nullable: true }) origin?: ModelOrigin;
  @Field(() => ID, { nullable: true }) sourceDatasetId?: string;
  @Field(() => ID, { nullable: true }) targetDatasetId?: string;
  @Field(() => ID, { nullable: true, description: "Source or target dataset." }) datasetId?: string;
  @Field(() => [String], { nullable: true, description: "Has every one of these tags." }) tagsAll?: string[];
  @Field(() => [String], { nullable: true, description: "Has at least one of these tags." }) tagsAny?: string[];
  @Field({ nullable: true, description: "Case-insensitive substring of the name." }) nameContains?: string;
  @Field({ nullable: true, description: "Created at or after." }) createdAfter?: Date;
  @Field({ nullable: true, description: "Created before." }) createdBefore?: Date;
}

@InputType()
export class ModelOrderBy {
  @Field(() => ModelSortField) field!: ModelSortField;
  @Field(() => SortDirection, { nullable: true, description: "Default ASC for NAME, DESC for CREATED_AT and SCORE." }) direction?: SortDirection;
  @Field(() => ID, { nullable: true, description: "SCORE: the dataset whose canonical score orders the models (unscored models come last)." }) datasetId?: string;
}
