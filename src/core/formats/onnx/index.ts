/** The ONNX format: structure reader, tensor data reader and merge-output rewriter. */
export { parseOnnx, type OnnxMetadata, type ParseOnnxOptions } from "./parseOnnx";
export { readTensorBytes } from "./readTensorBytes";
export { checkExternalLocation, openExternalData } from "./externalData";
export { MAX_INLINE_MODEL_BYTES, planOnnxRewrite, type OnnxRewritePlan } from "./planOnnxRewrite";
export { writeOnnxRewrite, type ByteSink, type WriteOnnxRewriteOptions } from "./writeOnnxRewrite";
export { rewriteOnnx } from "./rewriteOnnx";
