/**
 * The evaluation core: pure pieces a runtime loop composes as
 *   readDataset → preprocessImage → session.run → resizeArgmax | postprocessPanopticDeepLab
 *   → ConfusionMatrix.add | PanopticQuality.addImage → meanIoU | PanopticQuality.result.
 */
export { ConfusionMatrix, type LabelArray } from "./metrics/ConfusionMatrix";
export { meanIoU, type MeanIoUOptions, type MeanIoUResult } from "./metrics/meanIoU";
export { PanopticQuality, type PanopticClassStats, type PanopticQualityResult, type PqAverage } from "./metrics/PanopticQuality";
export { panopticFromLabelMap, type PanopticFromLabelMapOptions } from "./metrics/panopticFromLabelMap";
export { PANOPTIC_VOID_ID, type PanopticCategory, type PanopticImage, type PanopticSegment } from "./metrics/panopticTypes";

export { semanticArgmax } from "./postprocess/semanticArgmax";
export { findInstanceCenters, type InstanceCenter } from "./postprocess/findInstanceCenters";
export { PANOPTIC_VOID, postprocessPanopticDeepLab, type PanopticDeepLabHeads, type PanopticDeepLabResult } from "./postprocess/postprocessPanopticDeepLab";
export { DEFAULT_PANOPTIC_POSTPROCESS, resolvePanopticPostprocess, type PanopticPostprocessOptions } from "./postprocess/panopticPostprocessOptions";

export { bilinearTaps, type BilinearTaps } from "./resize/bilinearTaps";
export { resizeBilinear } from "./resize/resizeBilinear";
export { resizeArgmax, type ClassIdArray } from "./resize/resizeArgmax";
export { resizeNearest } from "./resize/resizeNearest";
export { resizeOffsets } from "./resize/resizeOffsets";
export { preprocessImage, type PixelImage, type PreprocessOptions } from "./resize/preprocessImage";
export { channelNormalization, normalizationTable, normalizeSample, type ChannelNormalization, type NormalizationName } from "./resize/normalization";
export { keepRatioSize } from "./resize/keepRatioSize";
export { planSlideWindows, type SlideWindow } from "./resize/planSlideWindows";
export { extractWindow } from "./resize/extractWindow";
export { SlideAccumulator } from "./resize/SlideAccumulator";

export type { DecodedImage, ImageDecoder } from "./datasets/ImageDecoder";
export { DatasetFormat } from "./datasets/datasetTypes";
export type { DatasetClass, DatasetEntry, DatasetIndex, DatasetProblem, DatasetSample, DatasetSpec, LabelMap, PanopticSample, SemanticSample } from "./datasets/datasetTypes";
export { classLookup, type ClassLookup } from "./datasets/classLookup";
export { listDataset } from "./datasets/listDataset";
export { loadSample } from "./datasets/loadSample";
export { readDataset, type ReadDatasetOptions } from "./datasets/readDataset";
export { readImages, type ImageSample } from "./datasets/readImages";
export { validateDataset, type DatasetReport, type ValidateDatasetOptions } from "./datasets/validateDataset";
export { datasetChecksum } from "./datasets/datasetChecksum";
export { prefetch } from "./datasets/prefetch";
