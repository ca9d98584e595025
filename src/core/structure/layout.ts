import type { ParsedModel } from "./types";

/**
 * The parts of a parse a merge needs to read tensors by range (metadata left out, except a
 * checkpoint's `meta`, which its merge output carries): what registration records as
 * `Artifact.layout` and merges take instead of parsing the file again.
 */
export function layoutOf(parsed: ParsedModel): ParsedModel {
  const meta = (parsed.metadata as { checkpointMeta?: unknown }).checkpointMeta;
  return {
    format: parsed.format,
    tensors: parsed.tensors,
    layerCount: parsed.layerCount,
    layerOrderSource: parsed.layerOrderSource,
    generatedNameCount: parsed.generatedNameCount,
    metadata: meta === undefined ? {} : { checkpointMeta: meta },
  };
}
