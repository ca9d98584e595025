import { badInput } from "../../errors";
import { isFloating, type LayerOrderSource, type ParsedModel, type TensorInfo } from "../../structure/types";
import type { ByteSource } from "../byteSource";
import { groupOf } from "../safetensors/parseSafetensors";
import { applyGivenOrder, moduleOf } from "../safetensors/safetensorsLayerOrder";
import { checkpointMetaJson, type Json } from "./pickleToJson";
import { PickleDict, type TensorRef } from "./pickleValues";
import { readCheckpoint, type ReadCheckpointOptions, type StorageSpan } from "./readCheckpoint";
import { selectStateDict, type SelectStateDictOptions } from "./selectStateDict";

export interface ParsePytorchOptions extends SelectStateDictOptions, ReadCheckpointOptions {
  /** Module prefixes in forward order; overrides the state dict's order ("GIVEN"). */
  layerOrder?: readonly string[];
  /** The order was taken from another model: modules this checkpoint lacks are dropped from it. */
  layerOrderFromAnotherModel?: boolean;
}

export interface PytorchMetadata {
  container: "zip" | "legacy";
  /** The checkpoint key the weights were read from (null: the top level). */
  checkpointKey: string | null;
  strippedPrefix: string;
  /** The checkpoint's `meta` (mmcv/mmseg: CLASSES, PALETTE, iteration…) as JSON, when it has one. */
  checkpointMeta?: Json;
  /** Entries of the state dict that are not tensors (skipped). */
  skipped: string[];
}

/** Only views laid out row-major without gaps can be read as one byte range. */
function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  if (shape.some((d) => d === 0)) return true;
  let expected = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    if (shape[k] !== 1 && stride[k] !== expected) return false;
    expected *= shape[k];
  }
  return true;
}

function locate(name: string, t: TensorRef, span: StorageSpan): { offset: number; length: number; elements: number } {
  if (!isContiguous(t.shape, t.stride)) {
    throw badInput(`tensor ${JSON.stringify(name)} is a non-contiguous view (shape [${t.shape.join(", ")}], stride [${t.stride.join(", ")}]); save it with .contiguous()`);
  }
  const elements = t.shape.reduce((a, d) => a * d, 1);
  if (!Number.isSafeInteger(elements)) throw badInput(`tensor ${JSON.stringify(name)} has more elements than can be counted`);
  const start = t.storageOffset * t.storage.itemSize;
  const length = elements * t.storage.itemSize;
  if (start + length > span.bytes) {
    throw badInput(`tensor ${JSON.stringify(name)} reads ${length} bytes at storage offset ${t.storageOffset} of storage ${JSON.stringify(t.storage.key)}, past its ${span.bytes} bytes`);
  }
  return { offset: span.offset + start, length, elements };
}

/**
 * Reads a PyTorch checkpoint's structure: the weights' dict chosen (selectStateDict.ts), every
 * tensor located as an absolute byte range of the file (storage entry + offset × item size), no
 * tensor data read. Layers are modules in the state dict's own order (pickle keeps the
 * OrderedDict's order, which is registration order, i.e. forward order for most nets).
 */
export function parsePytorch(source: ByteSource, options: ParsePytorchOptions = {}): ParsedModel {
  const checkpoint = readCheckpoint(source, options);
  const choice = selectStateDict(checkpoint.root, options);
  const modules: string[] = [];
  const seen = new Set<string>();
  for (const [name] of choice.tensors) {
    const m = moduleOf(name);
    if (!seen.has(m)) { seen.add(m); modules.push(m); }
  }
  const given = options.layerOrder && options.layerOrderFromAnotherModel ? options.layerOrder.filter((m) => seen.has(m)) : options.layerOrder;
  const order = given ? applyGivenOrder(modules, given) : modules;
  const source_: LayerOrderSource = options.layerOrder ? "GIVEN" : "STATE_DICT";
  const layerIndex = new Map(order.map((m, k) => [m, k]));
  const tensors: TensorInfo[] = choice.tensors.map(([name, t]) => {
    const span = checkpoint.storages.get(t.storage.key)!;
    const { offset, length, elements } = locate(name, t, span);
    return {
      name,
      shape: t.shape,
      dtype: t.storage.dtype,
      elements,
      mergeable: isFloating(t.storage.dtype),
      layerIndex: layerIndex.get(moduleOf(name))!,
      group: groupOf(name),
      location: { kind: "raw", offset, length },
    };
  });
  tensors.sort((a, b) => a.layerIndex - b.layerIndex);
  const metadata: PytorchMetadata = { container: checkpoint.container, checkpointKey: choice.key, strippedPrefix: choice.strippedPrefix, skipped: choice.skipped };
  const meta = checkpoint.root instanceof PickleDict ? checkpoint.root.entries.get("meta") : undefined;
  if (meta !== undefined && choice.key !== null) metadata.checkpointMeta = checkpointMetaJson(meta);
  return {
    format: "pytorch",
    tensors,
    layerCount: order.length,
    layerOrderSource: source_,
    generatedNameCount: 0,
    metadata: metadata as unknown as Record<string, unknown>,
  };
}
