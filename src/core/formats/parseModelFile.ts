import { badInput } from "../errors";
import type { ParsedModel } from "../structure/types";
import { FileByteSource } from "./byteSource";
import { isSafetensors } from "./safetensors/isSafetensors";
import { parseSafetensors } from "./safetensors/parseSafetensors";
import { moduleOf } from "./safetensors/safetensorsLayerOrder";
import { readSafetensorsHeader } from "./safetensors/readSafetensorsHeader";
import { parseOnnx } from "./onnx/parseOnnx";
import { openExternalData } from "./onnx/externalData";
import { isLegacyCheckpoint } from "./pytorch/readCheckpoint";
import { isZip } from "./pytorch/readZip";
import { parsePytorch } from "./pytorch/parsePytorch";

export interface ParseModelFileOptions {
  /** safetensors: module prefixes in forward order (overrides the detected order). */
  layerOrder?: readonly string[];
  /**
   * The layer order was taken from another model and may name modules this file lacks (another
   * head): those are dropped rather than refused.
   */
  layerOrderFromAnotherModel?: boolean;
  /**
   * ONNX external data: the folder the model's side files live in. Absent for uploaded blobs
   * (which carry no side files): a model that needs them is then refused.
   */
  externalDataRoot?: string;
  /** PyTorch checkpoint: the key holding the weights (default: searched, see selectStateDict). */
  checkpointKey?: string;
  /** PyTorch checkpoint: a name prefix to strip (default: `module.` when every name has it). */
  stripPrefix?: string;
  /** The largest size a zip entry may declare or inflate to (the upload limit). */
  maxEntryBytes?: number;
}

/**
 * Detects the format from the bytes, never from the file name (safetensors' header, a zip or a
 * pickle for a PyTorch checkpoint, else ONNX protobuf) and parses the parameter structure. Errors
 * name the problem; an unknown format says what was expected.
 */
export function parseModelFile(file: string, options: ParseModelFileOptions = {}): ParsedModel {
  return refuseNulCharacters(parseDetected(file, options));
}

/**
 * Every format allows any character in a tensor name or metadata string, U+0000 included; the
 * registry stores them as text, which PostgreSQL cannot hold with a NUL in it. Such a file is
 * refused the same way on every database, naming where the character is.
 */
function refuseNulCharacters(parsed: ParsedModel): ParsedModel {
  for (const t of parsed.tensors) {
    if (t.name.includes("\u0000")) throw badInput(`tensor name ${JSON.stringify(t.name)} contains a NUL character (U+0000), which the registry cannot store`, "artifact");
  }
  if (JSON.stringify(parsed.metadata ?? null).includes("\\u0000")) throw badInput("the file's metadata contains a NUL character (U+0000), which the registry cannot store", "artifact");
  return parsed;
}

function parseDetected(file: string, options: ParseModelFileOptions): ParsedModel {
  // A small read-ahead window: parsing touches headers spread across the file, not the data.
  const source = new FileByteSource(file, 4 * 1024);
  try {
    if (source.size === 0) throw badInput("the file is empty; expected an ONNX, safetensors or PyTorch model", "artifact");
    if (isZip(source) || isLegacyCheckpoint(source)) {
      return parsePytorch(source, { layerOrder: options.layerOrder, layerOrderFromAnotherModel: options.layerOrderFromAnotherModel, checkpointKey: options.checkpointKey, stripPrefix: options.stripPrefix, maxEntryBytes: options.maxEntryBytes });
    }
    if (options.checkpointKey !== undefined || options.stripPrefix !== undefined) {
      throw badInput("checkpointKey and stripPrefix apply to PyTorch checkpoints only", options.checkpointKey !== undefined ? "input.checkpointKey" : "input.stripPrefix");
    }
    if (isSafetensors(source)) {
      let order = options.layerOrder;
      if (order && options.layerOrderFromAnotherModel) {
        const modules = new Set(readSafetensorsHeader(source).entries.map((e) => moduleOf(e.name)));
        order = order.filter((m) => modules.has(m));
      }
      return parseSafetensors(source, { layerOrder: order });
    }
    const first = source.read(0, 1)[0];
    // Every ONNX ModelProto field has a small field number; a first byte outside protobuf's
    // tag space for fields 1–20 means this is neither format.
    if ((first & 7) > 5 || first >> 3 === 0 || first >> 3 > 20) {
      throw badInput("the file is neither safetensors, a PyTorch checkpoint nor ONNX (unrecognised leading bytes)", "artifact");
    }
    const external = options.externalDataRoot ? openExternalData(options.externalDataRoot) : undefined;
    try {
      const parsed = parseOnnx(source, external ? { externalDataRoot: options.externalDataRoot, openExternal: external } : {});
      // Another model's order does not apply to a graph (as a given one is refused).
      if (options.layerOrder && !options.layerOrderFromAnotherModel) throw badInput("layerOrder applies to safetensors models only (ONNX layer order comes from the graph)", "input.layerOrder");
      return parsed;
    } finally {
      external?.close();
    }
  } finally {
    source.close();
  }
}
