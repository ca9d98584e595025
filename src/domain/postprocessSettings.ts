/**
 * Panoptic-DeepLab post-processing settings of an inference contract, as a model
 * declares them; unset fields take the defaults (centerThreshold 0.1, nmsKernel 7, topK 200,
 * stuffArea 0, thingArea 0, labelDivisor 1000, offsetOrder YX, centerActivation NONE).
 */
export interface PostprocessSettings {
  centerThreshold?: number | null;
  nmsKernel?: number | null;
  topK?: number | null;
  stuffArea?: number | null;
  thingArea?: number | null;
  labelDivisor?: number | null;
  offsetOrder?: "YX" | "XY" | null;
  centerActivation?: "NONE" | "SIGMOID" | null;
}
