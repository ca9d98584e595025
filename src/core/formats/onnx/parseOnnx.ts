import { badInput, DomainError } from "../../errors";
import type { ParsedModel, TensorInfo, TensorLocation } from "../../structure/types";
import type { ByteSource } from "../byteSource";
import { checkReferences } from "./checkReferences";
import { classifyConstants } from "./classifyConstants";
import { checkExternalLocation, openExternalData } from "./externalData";
import { rawByteLength } from "./onnxDataType";
import type { OnnxModelRecord, OnnxTensorRecord, OnnxValueInfo } from "./onnxModelRecord";
import { isGeneratedName, moduleGroup } from "./moduleGroup";
import { onnxPositionalKeys } from "./onnxPositionalKeys";
import { orderNodes } from "./orderNodes";
import { readOnnxModel } from "./readOnnxModel";

export interface ParseOnnxOptions {
  /** The model file's folder: external data paths are relative to it and must stay inside it. */
  externalDataRoot?: string;
  /**
   * Opens an external data file by its normalized relative path (overrides externalDataRoot's
   * file access, e.g. for object storage). The caller is responsible for symlink checks then.
   */
  openExternal?: (relativePath: string) => ByteSource;
}

/** Metadata recorded in ParsedModel.metadata for ONNX models. */
export interface OnnxMetadata {
  irVersion: number;
  /** Operator set versions by domain ("ai.onnx" for the default domain). */
  opset: Record<string, number>;
  producerName: string;
  producerVersion: string;
  graphName: string;
  /** Graph inputs that are not initializers, and graph outputs; dims may be symbolic. */
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  metadataProps: Record<string, string>;
  nodeCount: number;
  initializerCount: number;
  constantNodeTensorCount: number;
  /** External data files the tensors use, relative to the model's folder. */
  externalDataFiles: string[];
  /** True when the node list was not topologically sorted and the layer order repaired it. */
  nodeOrderRepaired: boolean;
  /** Graph-valued attributes (If / Loop / Scan); tensors inside them are not listed. */
  subgraphCount: number;
}

/**
 * Reads an ONNX model's parameter structure: every parameter and quantized
 * tensor with its shape, dtype, layer index, group and data location. Tensor data is located by
 * offset, never loaded; external data files are opened only to check their size.
 *
 * @throws DomainError BAD_USER_INPUT for anything that is not a valid ONNX model.
 */
export function parseOnnx(source: ByteSource, options: ParseOnnxOptions = {}): ParsedModel {
  const model = readOnnxModel(source);
  checkReferences(model);
  const order = orderNodes(model.nodes);
  const position = new Array<number>(model.nodes.length);
  order.forEach((nodeIndex, rank) => (position[nodeIndex] = rank));
  const roles = classifyConstants(model, position);

  const locations = locateTensors(model.tensors, options);

  const ownerRanks = [...new Set(roles.filter((r) => r.listed).map((r) => position[r.owner!]))].sort((a, b) => a - b);
  const layerOf = new Map(ownerRanks.map((rank, layer) => [rank, layer]));

  const metadata = onnxMetadata(model, locations);
  const positionKeys = onnxPositionalKeys(model, order, roles, metadata.inputs);

  const listed: Array<{ info: TensorInfo; fileOrder: number }> = [];
  let generatedNameCount = 0;
  model.tensors.forEach((tensor, i) => {
    const role = roles[i];
    if (!role.listed) return;
    if (isGeneratedName(tensor.name)) generatedNameCount++;
    const location = locations[i];
    if (!location) throw badInput(`tensor "${tensor.name}" of type ${tensor.type.onnxName} has no data that can be read`);
    listed.push({
      fileOrder: i,
      info: {
        name: tensor.name,
        shape: tensor.dims.slice(),
        dtype: tensor.type.dtype,
        elements: tensor.elements,
        mergeable: role.mergeable,
        layerIndex: layerOf.get(position[role.owner!])!,
        group: moduleGroup(tensor.name),
        positionKey: positionKeys.get(tensor.name),
        location,
      },
    });
  });
  checkUniqueNames(listed.map((l) => l.info));
  listed.sort((a, b) => a.info.layerIndex - b.info.layerIndex || a.fileOrder - b.fileOrder);

  return {
    format: "onnx",
    tensors: listed.map((l) => l.info),
    layerCount: ownerRanks.length,
    layerOrderSource: "GRAPH",
    generatedNameCount,
    metadata: { ...metadata, nodeOrderRepaired: order.some((n, rank) => n !== rank) } satisfies OnnxMetadata as unknown as Record<string, unknown>,
  };
}

function onnxMetadata(model: OnnxModelRecord, locations: Array<TensorLocation | undefined>): Omit<OnnxMetadata, "nodeOrderRepaired"> {
  const initializers = new Set(model.tensors.filter((t) => t.origin === "initializer").map((t) => t.name));
  const opset: Record<string, number> = {};
  for (const o of model.opset) opset[o.domain === "" ? "ai.onnx" : o.domain] = o.version;
  const metadataProps: Record<string, string> = {};
  for (const e of model.metadataProps) metadataProps[e.key] = e.value;
  const files = new Set<string>();
  for (const l of locations) if (l?.kind === "raw" && l.file !== undefined) files.add(l.file);
  return {
    irVersion: model.irVersion,
    opset,
    producerName: model.producerName,
    producerVersion: model.producerVersion,
    graphName: model.graphName,
    inputs: model.inputs.filter((i) => !initializers.has(i.name)),
    outputs: model.outputs,
    metadataProps,
    nodeCount: model.nodes.length,
    initializerCount: initializers.size,
    constantNodeTensorCount: model.tensors.length - model.tensors.filter((t) => t.origin === "initializer").length,
    externalDataFiles: [...files].sort(),
    subgraphCount: model.subgraphCount,
  };
}

/**
 * Every tensor's location. External files are checked for every tensor (listed or not): the
 * merge output inlines them all, and a path escaping the folder is refused whatever it holds.
 */
function locateTensors(tensors: readonly OnnxTensorRecord[], options: ParseOnnxOptions): Array<TensorLocation | undefined> {
  const ownOpener = !options.openExternal && options.externalDataRoot !== undefined ? openExternalData(options.externalDataRoot) : undefined;
  const open = options.openExternal ?? ownOpener;
  try {
    return tensors.map((t): TensorLocation | undefined => {
      const d = t.data;
      switch (d.kind) {
        case "raw":
          return { kind: "raw", offset: d.offset, length: d.length };
        case "typed":
          return { kind: "typed", field: d.field, encoding: d.encoding, ranges: d.ranges.map(({ offset, length, packed }) => ({ offset, length, packed })), count: d.count };
        case "none":
          return undefined;
        case "external": {
          const title = `tensor "${t.name}"`;
          const file = checkExternalLocation(d.location, title);
          if (!open) throw badInput(`${title} keeps its data in external file "${d.location}", but the model's folder is unknown; register the model from a folder (or upload the external data with it)`);
          const size = openChecked(open, file, title).size;
          const expected = rawByteLength(t.type, t.elements);
          const length = d.length ?? size - d.offset;
          if (length !== expected) throw badInput(`${title} has ${length} bytes of external data in "${file}", but its shape [${t.dims.join(", ")}] of ${t.type.onnxName} needs ${expected}`);
          if (d.offset + length > size) throw badInput(`${title} reads bytes [${d.offset}, ${d.offset + length}) of "${file}", which has only ${size} bytes`);
          return { kind: "raw", file, offset: d.offset, length };
        }
      }
    });
  } finally {
    ownOpener?.close();
  }
}

function openChecked(open: (relativePath: string) => ByteSource, file: string, title: string): ByteSource {
  try {
    return open(file);
  } catch (e) {
    if (e instanceof DomainError) throw e;
    throw badInput(`cannot open external data file "${file}" of ${title}: ${(e as Error).message}`);
  }
}

function checkUniqueNames(tensors: readonly TensorInfo[]): void {
  const seen = new Set<string>();
  for (const t of tensors) {
    if (seen.has(t.name)) throw badInput(`the model defines tensor "${t.name}" twice`);
    seen.add(t.name);
  }
}
