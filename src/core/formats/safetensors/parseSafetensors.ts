import { isFloating, type ParsedModel, type TensorInfo } from "../../structure/types";
import type { ByteSource } from "../byteSource";
import { readSafetensorsHeader } from "./readSafetensorsHeader";
import { moduleOf, safetensorsLayerOrder, storageOrder } from "./safetensorsLayerOrder";

export interface ParseSafetensorsOptions {
  /** Module prefixes in forward order; overrides the order found in the file ("GIVEN"). */
  layerOrder?: readonly string[];
}

/** The group of a tensor: the first component of its name (`backbone.layer1.0.conv1.weight` → `backbone`). */
export function groupOf(name: string): string {
  const dot = name.indexOf(".");
  return dot < 0 ? name : name.slice(0, dot);
}

/**
 * Reads a safetensors file's structure from its header alone: tensor locations are recorded as
 * absolute file ranges (8 + header length + data_offsets), never read.
 *
 * A layer is a module (the name without its last component); every module holding a tensor is a
 * layer, so `layerCount` counts modules, integer-only ones included.
 */
export function parseSafetensors(source: ByteSource, options: ParseSafetensorsOptions = {}): ParsedModel {
  const header = readSafetensorsHeader(source);
  const stored = storageOrder(header.entries);
  const order = safetensorsLayerOrder(stored, options.layerOrder);
  const layerIndex = new Map(order.modules.map((m, k) => [m, k]));
  const tensors: TensorInfo[] = stored.map((e) => ({
    name: e.name,
    shape: e.shape,
    dtype: e.dtype,
    elements: e.elements,
    mergeable: isFloating(e.dtype),
    layerIndex: layerIndex.get(moduleOf(e.name))!,
    group: groupOf(e.name),
    location: { kind: "raw", offset: header.dataStart + e.begin, length: e.end - e.begin },
  }));
  // Stable sort: within a layer, storage order is kept.
  tensors.sort((a, b) => a.layerIndex - b.layerIndex);
  return {
    format: "safetensors",
    tensors,
    layerCount: order.modules.length,
    layerOrderSource: order.source,
    generatedNameCount: 0,
    metadata: {
      headerLength: header.headerLength,
      dataStart: header.dataStart,
      __metadata__: Object.fromEntries(header.metadata),
    },
  };
}
