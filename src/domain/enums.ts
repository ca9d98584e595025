/**
 * The closed vocabularies of the registry. Stored as strings (SQLite has no enums); services
 * validate against these, and the GraphQL enums are registered from the same objects.
 */
export enum TaskKind { SEMANTIC = "SEMANTIC", PANOPTIC = "PANOPTIC", INSTANCE = "INSTANCE" }
export enum PrimaryMetric { MIOU = "MIOU", PQ = "PQ" }
export enum DatasetFormat { SEMANTIC_PNG = "SEMANTIC_PNG", CITYSCAPES = "CITYSCAPES", COCO_PANOPTIC = "COCO_PANOPTIC", IMAGES = "IMAGES" }
export enum ModelOrigin { TRAINED = "TRAINED", MERGED = "MERGED", IMPORTED = "IMPORTED" }
export enum LineageRelation {
  MERGED_FROM = "MERGED_FROM",
  FINETUNED_FROM = "FINETUNED_FROM",
  CHECKPOINT_OF = "CHECKPOINT_OF",
  QUANTIZED_FROM = "QUANTIZED_FROM",
  EXPORTED_FROM = "EXPORTED_FROM",
}
export enum LineageDirection { ANCESTORS = "ANCESTORS", DESCENDANTS = "DESCENDANTS", BOTH = "BOTH" }
export enum ResizeMode { FIXED = "FIXED", KEEP_RATIO = "KEEP_RATIO", SLIDE = "SLIDE" }
export enum ChannelOrder { RGB = "RGB", BGR = "BGR" }
/** DIVIDE: float32 (x − mean) / std (PyTorch pipelines); MMCV: mmcv 1.x imnormalize through OpenCV. */
export enum Normalization { DIVIDE = "DIVIDE", MMCV = "MMCV" }
export enum OutputKind {
  SEMANTIC_LOGITS = "SEMANTIC_LOGITS",
  SEMANTIC_IDS = "SEMANTIC_IDS",
  PANOPTIC_SEMANTIC = "PANOPTIC_SEMANTIC",
  PANOPTIC_CENTER = "PANOPTIC_CENTER",
  PANOPTIC_OFFSET = "PANOPTIC_OFFSET",
  PANOPTIC_IDS = "PANOPTIC_IDS",
}
export enum Role { READER = "READER", WRITER = "WRITER", ADMIN = "ADMIN" }
export enum SortDirection { ASC = "ASC", DESC = "DESC" }
export enum ModelSortField { NAME = "NAME", CREATED_AT = "CREATED_AT", SCORE = "SCORE" }
export enum DatasetSortField { NAME = "NAME", CREATED_AT = "CREATED_AT" }

/** READER < WRITER < ADMIN: a role may do what any lower role may. */
export const ROLE_RANK: Readonly<Record<Role, number>> = { READER: 1, WRITER: 2, ADMIN: 3 };
