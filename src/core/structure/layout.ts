import type { ParsedModel } from "./types";

/**
 * The parts of a parse a merge needs to read tensors by range (metadata left out): what
 * registration records as `Artifact.layout` and merges take instead of parsing the file again.
 */
export function layoutOf(parsed: ParsedModel): ParsedModel {
  return { format: parsed.format, tensors: parsed.tensors, layerCount: parsed.layerCount, layerOrderSource: parsed.layerOrderSource, generatedNameCount: parsed.generatedNameCount, metadata: {} };
}
