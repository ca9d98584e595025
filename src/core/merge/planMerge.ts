import { badInput, invariant } from "../errors";
import type { TensorMatching } from "../structure/tensorMatching";
import type { ParsedModel, TensorInfo } from "../structure/types";
import { isParameter, isShared } from "../structure/sharedTensor";
import { DTYPE_BYTES } from "../structure/types";
import { layerWeights } from "./layerWeights";
import { MERGE_METHODS, MergeMethodName, resolveMethodName, resolveMethodParams } from "./mergeMethods";
import { MergeSchedule, ScheduleInput, resolveSchedule, scheduleFor } from "./mergeSchedule";

export interface MergePlanInput {
  anchor: ParsedModel;
  contributors: readonly ParsedModel[];
  /** The common pre-trained model; required by the methods whose `needsBase` is set. */
  base?: ParsedModel | null;
  method?: string | null;
  schedule?: ScheduleInput | null;
  /** One relative weight per contributor (≥ 0), splitting 1 − w_a in proportion. */
  weights?: readonly number[] | null;
  params?: Readonly<Record<string, unknown>> | null;
  /**
   * How a contributor's (and the base's) tensors are paired with the anchor's: NAME (default) or
   * POSITION (the same positional key; the output keeps the anchor's names either way).
   */
  matching?: TensorMatching | null;
  /** Names used in error messages (model names or ids); default "anchor", "contributor 1"…, "base". */
  names?: { anchor?: string; contributors?: readonly string[]; base?: string };
}

/** One input of a merged tensor. `model`: 0 = anchor, 1..n = contributors (in input order). */
export interface MergeInput {
  model: number;
  tensor: TensorInfo;
  /** w_k(l): this model's weight at the tensor's layer. Inputs of one tensor sum to 1. */
  weight: number;
}

export type PlannedTensor =
  | {
      action: "copy";
      tensor: TensorInfo;
      /** NOT_FLOATING: integer/quantized data; NOT_SHARED: no contributor has it with this shape. */
      reason: "NOT_FLOATING" | "NOT_SHARED";
    }
  | {
      action: "merge";
      tensor: TensorInfo;
      /** The method applied: the plan's, or LAYERWISE when the base lacks this tensor. */
      method: MergeMethodName;
      /** Anchor first, then the contributors that share the tensor, in model order. */
      inputs: MergeInput[];
      /** The base's tensor, for the methods that need a base. */
      baseTensor?: TensorInfo;
    };

export interface LayerWeightRow {
  /** The anchor's layer index l. */
  index: number;
  /**
   * Effective weight of every model at this layer, anchor first: the element-weighted mean over
   * the layer's merged tensors (a model not sharing a tensor counts 0 there). A layer with no
   * merged tensor is the anchor's: [1, 0, …].
   */
  weights: number[];
  mergedTensors: number;
}

export interface MergePlan {
  method: MergeMethodName;
  matching: TensorMatching;
  schedule: MergeSchedule;
  /** Method parameters with defaults filled in. */
  params: Record<string, number>;
  /** Relative contributor weights as given, or null (equal shares). */
  weights: number[] | null;
  /** Display names, anchor first then contributors. */
  modelNames: string[];
  baseName: string | null;
  hasBase: boolean;
  layerCount: number;
  /** Every anchor tensor, in the anchor's order. */
  tensors: PlannedTensor[];
  layers: LayerWeightRow[];
  /**
   * Mean effective weight of each model (anchor first) over the merged tensors, weighted by
   * element count; a model counts 0 on the merged tensors it does not share. These weight the
   * merged model's lineage edges.
   */
  meanWeights: number[];
  mergedCount: number;
  copiedCount: number;
  /** Merged tensors the base lacks, merged as LAYERWISE instead. */
  layerwiseFallbackCount: number;
  mergedElements: number;
  /** Bytes of tensor data in the output (the anchor's tensors, merged ones in the anchor's dtype). */
  expectedOutputBytes: number;
  /** Bytes of tensor data the merge reads once (merged tensors' inputs, base included). */
  inputBytes: number;
}

function tensorBytes(t: TensorInfo): number {
  const width = DTYPE_BYTES[t.dtype];
  if (width > 0) return t.elements * width;
  return t.location.kind === "raw" ? t.location.length : 0;
}

function indexByName(model: ParsedModel, label: string): Map<string, TensorInfo> {
  const map = new Map<string, TensorInfo>();
  for (const t of model.tensors) {
    if (map.has(t.name)) throw badInput(`${label} lists tensor ${JSON.stringify(t.name)} twice; tensor names must be unique`);
    map.set(t.name, t);
  }
  return map;
}

/** Tensors by positional key; a model without keys (no graph, or registered before them) is refused. */
function indexByPosition(model: ParsedModel, label: string, field: string): Map<string, TensorInfo> {
  const map = new Map<string, TensorInfo>();
  for (const t of model.tensors) {
    if (t.positionKey == null) throw badInput(`${label} has no positional keys (only ONNX graphs have them, from registration on), so it cannot be matched by POSITION; use matching NAME`, field);
    map.set(t.positionKey, t);
  }
  return map;
}

/**
 * Decides, from parsed structures alone (no tensor data), what a merge will do: which anchor
 * tensors are merged from which inputs with which weights, and which are copied. Validates the
 * whole recipe up front so a merge job fails before it starts, not halfway.
 *
 * A contributor takes part in an anchor tensor when it has one of the same name (or positional
 * key, with `matching` POSITION) that is shared (structure/sharedTensor.ts); N is counted per tensor.
 */
export function planMerge(input: MergePlanInput): MergePlan {
  const method = resolveMethodName(input.method);
  const definition = MERGE_METHODS[method];
  const schedule = resolveSchedule(input.schedule ?? definition.defaultSchedule);
  const params = resolveMethodParams(method, input.params);
  const { anchor, contributors } = input;
  const base = input.base ?? null;
  const modelNames = [
    input.names?.anchor ?? "anchor",
    ...contributors.map((_, i) => input.names?.contributors?.[i] ?? `contributor ${i + 1}`),
  ];
  const baseName = base ? input.names?.base ?? "base" : null;

  if (contributors.length === 0) throw badInput("a merge needs at least one model besides the anchor", "input.modelIds");
  const weights = input.weights ? [...input.weights] : null;
  if (weights) {
    if (weights.length !== contributors.length) {
      throw badInput(`weights has ${weights.length} entries but there are ${contributors.length} contributors; give one relative weight per contributor, in modelIds order`, "input.weights");
    }
    weights.forEach((w, i) => {
      if (!Number.isFinite(w) || w < 0) throw badInput(`weight ${i} (for ${modelNames[i + 1]}) must be a finite number ≥ 0, got ${w}`, `input.weights.${i}`);
    });
  }
  definition.validate?.({ contributorCount: contributors.length, weights, schedule });
  const needsBase = definition.needsBase;
  if (needsBase && !base) throw badInput(`${method} needs baseModelId: the common pre-trained model whose task vectors θ − θ_base are merged`, "input.baseModelId");
  if (!needsBase && base) throw badInput(`${method} does not use a base model; baseModelId applies to ${Object.values(MERGE_METHODS).filter((m) => m.needsBase).map((m) => m.name).join(", ")}`, "input.baseModelId");

  const L = anchor.layerCount;
  const matching: TensorMatching = input.matching ?? "NAME";
  const byPosition = matching === "POSITION";
  const index = (m: ParsedModel, label: string, field: string) => (byPosition ? indexByPosition(m, label, field) : indexByName(m, label));
  const keyOf = (t: TensorInfo): string => (byPosition ? t.positionKey! : t.name);
  const contributorMaps = contributors.map((c, i) => index(c, modelNames[i + 1], `input.modelIds.${i}`));
  const baseMap = base ? index(base, baseName!, "input.baseModelId") : null;
  indexByName(anchor, modelNames[0]);
  if (byPosition) indexByPosition(anchor, modelNames[0], "input.anchorId");

  const tensors: PlannedTensor[] = [];
  const layerSums = Array.from({ length: Math.max(L, 0) }, () => ({ elements: 0, tensors: 0, weights: new Array<number>(contributors.length + 1).fill(0) }));
  const meanSums = new Array<number>(contributors.length + 1).fill(0);
  let mergedElements = 0;
  let expectedOutputBytes = 0;
  let inputBytes = 0;
  let layerwiseFallbackCount = 0;
  let baseUsed = 0;

  for (const t of anchor.tensors) {
    expectedOutputBytes += tensorBytes(t);
    if (!isParameter(t) || !definition.dtypes.includes(t.dtype)) {
      tensors.push({ action: "copy", tensor: t, reason: "NOT_FLOATING" });
      continue;
    }
    const sharing: Array<{ model: number; tensor: TensorInfo }> = [];
    contributorMaps.forEach((map, i) => {
      const other = map.get(keyOf(t));
      if (other && isShared(t, other)) sharing.push({ model: i + 1, tensor: other });
    });
    if (sharing.length === 0) {
      tensors.push({ action: "copy", tensor: t, reason: "NOT_SHARED" });
      continue;
    }
    invariant(t.layerIndex >= 0 && t.layerIndex < L, `tensor ${t.name} has layer ${t.layerIndex} outside 0..${L - 1}`);
    const relative = sharing.map((s) => (weights ? weights[s.model - 1] : 1));
    if (relative.every((r) => r === 0)) {
      const who = sharing.map((s) => modelNames[s.model]).join(", ");
      throw badInput(`tensor ${JSON.stringify(t.name)} is shared with ${who} whose relative weights are all 0, so 1 − w_a has nowhere to go; give one of them a positive weight`, "input.weights");
    }
    const w = layerWeights(scheduleFor(schedule, t.name), t.layerIndex, L, relative);
    const inputs: MergeInput[] = [{ model: 0, tensor: t, weight: w[0] }, ...sharing.map((s, i) => ({ model: s.model, tensor: s.tensor, weight: w[i + 1] }))];

    let baseTensor: TensorInfo | undefined;
    let tensorMethod = method;
    if (baseMap) {
      const b = baseMap.get(keyOf(t));
      if (b && isShared(t, b)) {
        baseTensor = b;
        baseUsed++;
      } else {
        // A tensor the base lacks has no task vector: it is merged as LAYERWISE.
        tensorMethod = "LAYERWISE";
        layerwiseFallbackCount++;
      }
    }
    tensors.push({ action: "merge", tensor: t, method: tensorMethod, inputs, ...(baseTensor ? { baseTensor } : {}) });

    mergedElements += t.elements;
    inputBytes += inputs.reduce((sum, x) => sum + tensorBytes(x.tensor), 0) + (baseTensor ? tensorBytes(baseTensor) : 0);
    const row = layerSums[t.layerIndex];
    row.elements += t.elements;
    row.tensors += 1;
    for (const x of inputs) {
      row.weights[x.model] += x.weight * t.elements;
      meanSums[x.model] += x.weight * t.elements;
    }
  }

  const mergedCount = tensors.filter((p) => p.action === "merge").length;
  if (mergedCount === 0) {
    throw badInput(`nothing to merge: no contributor shares a floating tensor (same ${byPosition ? "positional key" : "name"} and shape) with ${modelNames[0]}`, "input.modelIds");
  }
  if (baseMap && baseUsed === 0) {
    throw badInput(`${baseName} shares none of the merged tensors (same ${byPosition ? "positional key" : "name"} and shape); baseModelId must be the models' common pre-trained model`, "input.baseModelId");
  }

  const layers: LayerWeightRow[] = layerSums.map((row, index) => ({
    index,
    weights: row.elements > 0 ? row.weights.map((s) => s / row.elements) : row.weights.map((_, m) => (m === 0 ? 1 : 0)),
    mergedTensors: row.tensors,
  }));

  return {
    method,
    matching,
    schedule,
    params,
    weights,
    modelNames,
    baseName,
    hasBase: base !== null,
    layerCount: L,
    tensors,
    layers,
    meanWeights: meanSums.map((s, m) => (mergedElements > 0 ? s / mergedElements : m === 0 ? 1 : 0)),
    mergedCount,
    copiedCount: tensors.length - mergedCount,
    layerwiseFallbackCount,
    mergedElements,
    expectedOutputBytes,
    inputBytes,
  };
}
