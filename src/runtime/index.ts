/**
 * The evaluation runtime: the only place that imports onnxruntime-node.
 * Services call `evaluateModel`; the rest is exported for tests and the benchmark.
 */
export { evaluateModel } from "./evaluateModel";
export { TransientRuntimeError, isResourceExhaustion } from "./runtimeFailure";
export type { EvaluateModelOptions, EvaluationMetrics, EvaluationResult, EvaluationSettings, EvaluationTask, PerClassScore } from "./evaluationTypes";
export type { OutputKindName, ResizeModeName, RuntimeContract } from "./runtimeContract";
export { openSession, sessionThreads, type SessionThreads } from "./openSession";
export { planInput, type InputPlan } from "./planInput";
export { planModelIo, type ModelHead, type ModelIo } from "./planModelIo";
