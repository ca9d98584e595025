/**
 * Names exporters invent rather than take from the module tree: `onnx::Conv_1897` (PyTorch's
 * TorchScript exporter), bare numbers (old PyTorch exports), `/decode_head/Constant_3_output_0`
 * (PyTorch's node-output names), `const_fold_opt__12` (tf2onnx). Matching such names across
 * models is unreliable, so they are counted and flagged.
 */
export function isGeneratedName(name: string): boolean {
  return name.includes("::") || /^\d+$/.test(name) || /_output_\d+$/.test(name) || /^const_fold_opt__\d+$/.test(name);
}

/** The group of exporter-generated names that carry no module path. */
export const GENERATED_GROUP = "(generated)";

/**
 * The first component of a parameter's module path: `backbone.layer1.0.conv1.weight` →
 * `backbone`; a dotless name is its own group (`fc_bias`). Slash paths (PyTorch node outputs,
 * TensorFlow variables) split on `/`.
 */
export function moduleGroup(name: string): string {
  const slashParts = name.split("/").filter((p) => p !== "");
  if (isGeneratedName(name)) return slashParts.length >= 2 ? slashParts[0] : GENERATED_GROUP;
  if (slashParts.length >= 2) return slashParts[0];
  const dotParts = name.split(".");
  return dotParts.length >= 2 && dotParts[0] !== "" ? dotParts[0] : name;
}
