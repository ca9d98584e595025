import { Field, ID, InputType, Int, ObjectType } from "type-graphql";
import { DatasetFormat, DatasetSortField, SortDirection } from "./enums";
import { PageInfo } from "./pageInfo.type";

@ObjectType()
export class DatasetClass {
  @Field(() => Int, { description: "The model's output channel." }) id!: number;
  @Field() name!: string;
  @Field({ description: "Thing (countable instances) or stuff." }) isThing!: boolean;
  @Field(() => Int, { description: "The id used in the dataset's files (e.g. a Cityscapes labelId); equals id unless set." }) datasetId!: number;
}

@ObjectType({ description: "A dataset split on disk with its class list." })
export class Dataset {
  @Field(() => ID) id!: string;
  @Field() name!: string;
  @Field(() => String, { nullable: true, description: "GTA5, Synthia, Cityscapes…" }) domain!: string | null;
  @Field() split!: string;
  @Field(() => DatasetFormat) format!: DatasetFormat;
  @Field({ description: "Folder holding the split." }) location!: string;
  @Field(() => Int) ignoreIndex!: number;
  @Field(() => [DatasetClass]) classes!: DatasetClass[];
  @Field(() => Int, { nullable: true }) imageCount!: number | null;
  @Field(() => String, { nullable: true, description: "sha256 over the split's files, once checked." }) checksum!: string | null;
  @Field() createdAt!: Date;
  @Field() updatedAt!: Date;
  taskId!: string;
}

@ObjectType()
export class DatasetEdge {
  @Field() cursor!: string;
  @Field(() => Dataset) node!: Dataset;
}

@ObjectType()
export class DatasetConnection {
  @Field(() => [DatasetEdge]) edges!: DatasetEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
  @Field(() => Int) totalCount!: number;
}

@InputType()
export class DatasetClassInput {
  @Field(() => Int, { description: "The model's output channel." }) id!: number;
  @Field() name!: string;
  @Field() isThing!: boolean;
  @Field(() => Int, { nullable: true, description: "The id used in the dataset's files when it differs from id." }) datasetId?: number;
}

@InputType()
export class CreateDatasetInput {
  @Field() name!: string;
  @Field(() => ID) taskId!: string;
  @Field({ nullable: true }) domain?: string;
  @Field({ nullable: true, description: 'Default "val".' }) split?: string;
  @Field(() => DatasetFormat) format!: DatasetFormat;
  @Field({ description: "Folder holding the split." }) location!: string;
  @Field(() => Int, { nullable: true, description: "Default 255." }) ignoreIndex?: number;
  @Field(() => [DatasetClassInput]) classes!: DatasetClassInput[];
  @Field({ nullable: true, defaultValue: true, description: "Check the files now: pairing, label values, isThing; records count, size and checksum. false records a dataset stored elsewhere without looking." }) verify?: boolean;
}

@InputType()
export class UpdateDatasetInput {
  @Field({ nullable: true }) name?: string;
  @Field(() => ID, { nullable: true }) taskId?: string;
  @Field(() => String, { nullable: true }) domain?: string | null;
  @Field({ nullable: true }) split?: string;
  @Field(() => DatasetFormat, { nullable: true }) format?: DatasetFormat;
  @Field({ nullable: true }) location?: string;
  @Field(() => Int, { nullable: true }) ignoreIndex?: number;
  @Field(() => [DatasetClassInput], { nullable: true }) classes?: DatasetClassInput[];
}

@InputType({ description: "Filters combine with AND; use AND / OR / NOT for more." })
export class DatasetWhere {
  @Field(() => [DatasetWhere], { nullable: true }) AND?: DatasetWhere[];
  @Field(() => [DatasetWhere], { nullable: true }) OR?: DatasetWhere[];
  @Field(() => DatasetWhere, { nullable: true }) NOT?: DatasetWhere;
  @Field(() => ID, { nullable: true }) taskId?: string;
  @Field({ nullable: true }) domain?: string;
  @Field({ nullable: true }) split?: string;
  @Field(() => DatasetFormat, { nullable: true }) format?: DatasetFormat;
  @Field({ nullable: true, description: "Case-insensitive substring of the name." }) nameContains?: string;
}

@InputType()
export class DatasetOrderBy {
  @Field(() => DatasetSortField) field!: DatasetSortField;
  @Field(() => SortDirection, { nullable: true }) direction?: SortDirection;
}
