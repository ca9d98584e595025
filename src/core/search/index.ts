/**
 * Merge search: ranking candidate merges (and single models) by an objective computed from their
 * outputs, label-free or not (docs/CONVENTIONS.md, Merge search). Pure: the runtime feeds it
 * per-image statistics; it never runs a model.
 */
export { splitmix64At, unitInterval, SplitMix64 } from "./splitmix64";
export { perturbationDraw, perturbImage, flipClassMap, type PerturbationDraw, type FloatPixelImage } from "./perturbation";
export { probabilityStats, agreementStats, addAgreement, argmaxMap, probabilityStatsLength, agreementStatsLength, type ImageStats, type OutputActivation } from "./imageStats";
export { ensemblePseudoLabels } from "./ensemblePseudoLabels";
export { OBJECTIVE_KINDS, LABEL_FREE_KINDS, resolveObjectiveKind, measureOf, usesProbabilities, statsLength, objectiveValue, sumStats, type ObjectiveKind, type StatsMeasure } from "./objectives";
export { panopticStats, panopticStatsLength, panopticQualityOf } from "./panopticStats";
export { averageRanks, spearman } from "./spearman";
export { BOOTSTRAP_RESAMPLES, bestIndex, bootstrapDraws, confidenceFromResampled, pickConfidence, resampledObjectives, type BootstrapDraws, type PickConfidence } from "./pickConfidence";
export { candidateKey, prepareMixes, preparedCandidateKey, type PreparedMixes, type TensorMix } from "./candidateKey";
export { combinations, enumerateCandidates, enumerateCandidatesAsync, recipesInPlanOrder, type CandidatePlan, type EnumeratedCandidate, type SearchRecipe, type SearchSpace } from "./enumerateCandidates";
export { CMA_SIGMA0, CmaEs, clipUnit, cmaPopulationSize } from "./cmaEs";
export { symmetricEigen } from "./symmetricEigen";
export { expandParamGrids, MAX_PARAM_GRID_POINTS, type ParamGrid, type ParamGridInput } from "./paramGrids";
