import { registerEnumType } from "type-graphql";
import {
  ChannelOrder, DatasetFormat, DatasetSortField, LineageDirection, LineageRelation, ModelOrigin, ModelSortField,
  Normalization, OutputKind, PrimaryMetric, ResizeMode, Role, SortDirection, TaskKind,
} from "../../domain/enums";

/** The GraphQL enums are the domain vocabularies, registered once. */
registerEnumType(TaskKind, { name: "TaskKind" });
registerEnumType(PrimaryMetric, { name: "PrimaryMetric", description: "The metric that ranks models on a task." });
registerEnumType(DatasetFormat, { name: "DatasetFormat", description: "On-disk layout of a dataset split. IMAGES: a folder of images without labels (images/ or the folder itself), for label-free merge search objectives; it cannot be evaluated." });
registerEnumType(ModelOrigin, { name: "ModelOrigin" });
registerEnumType(LineageRelation, { name: "LineageRelation", description: "How a child model derives from its parent." });
registerEnumType(LineageDirection, { name: "LineageDirection" });
registerEnumType(ResizeMode, { name: "ResizeMode", description: "FIXED: resize to width×height; KEEP_RATIO: scale to fit, keeping the aspect ratio; SLIDE: sliding windows of cropSize every stride, logits averaged." });
registerEnumType(ChannelOrder, { name: "ChannelOrder" });
registerEnumType(Normalization, {
  name: "Normalization",
  description: "How the model's reference pipeline rounds (x − mean) / std; the last bit can move a panoptic center.",
  valuesConfig: {
    DIVIDE: { description: "float32 (x − mean) / std: mmseg 1.x's data preprocessor, torchvision's Normalize, detectron2." },
    MMCV: { description: "mmcv 1.x imnormalize (mmseg 0.x: DAFormer, HRDA, MIC): mean subtracted in float32, then × float64 1/std rounded once to float32." },
  },
});
registerEnumType(OutputKind, { name: "OutputKind" });
registerEnumType(Role, { name: "Role", description: "READER < WRITER < ADMIN." });
registerEnumType(SortDirection, { name: "SortDirection" });
registerEnumType(ModelSortField, { name: "ModelSortField" });
registerEnumType(DatasetSortField, { name: "DatasetSortField" });

export {
  ChannelOrder, DatasetFormat, DatasetSortField, LineageDirection, LineageRelation, ModelOrigin, ModelSortField,
  Normalization, OutputKind, PrimaryMetric, ResizeMode, Role, SortDirection, TaskKind,
};
