/**
 * The merge engine: plan from parsed structures, then stream tensor by tensor.
 *
 *   const plan = planMerge({ anchor, contributors, base, method, schedule, weights, params, names });
 *   const run = executeMerge(plan, io, { onProgress, signal });
 *   // a format rewriter calls run.getMergedTensorBytes(t) for each anchor tensor it writes
 *   run.finish();
 *
 * Pure TypeScript: tensor bytes come in through `MergeIo` and go out as the rewriter's callback.
 */
export { planMerge } from "./planMerge";
export type { MergePlan, MergePlanInput, MergeInput, PlannedTensor, LayerWeightRow } from "./planMerge";
export { executeMerge, BASE_MODEL_INDEX, DEFAULT_CHUNK_ELEMENTS } from "./executeMerge";
export type { MergeIo, MergeExecution, MergeExecutionOptions, RangeReader } from "./executeMerge";
export { MERGE_METHODS, MERGE_METHOD_NAMES, DEFAULT_MERGE_METHOD, resolveMethodName, resolveMethodParams } from "./mergeMethods";
export { METHODS } from "./methods";
export type { MergeMethod, MergeMethodName, MethodParameter } from "./mergeMethods";
export { SCHEDULE_KINDS, DEFAULT_STEP_CUTOFF, resolveSchedule, scheduleFor, scheduleValue, layerPosition } from "./mergeSchedule";
export type { MergeSchedule, ScheduleGroup, ScheduleInput, ScheduleKind } from "./mergeSchedule";
export { layerWeights } from "./layerWeights";
export { decodeToFloat32, decodeToFloat64, decodeInto } from "./decodeFloats";
export { encodeFromFloat32, encodeFromFloats, countNonFinite } from "./encodeFloats";
