import { badInput } from "../core/errors";
import type { EvaluationTask } from "./evaluationTypes";
import type { ValueMetadata } from "./inferenceProtocol";
import type { OutputKindName, RuntimeContract } from "./runtimeContract";

/** How the predictions are read from the model's outputs. */
export type ModelHead =
  /** SEMANTIC_LOGITS or PANOPTIC_SEMANTIC [N, C, H, W] float32. */
  | { kind: "logits"; name: string }
  /** SEMANTIC_IDS [N, H, W] (or [N, 1, H, W]) integer class ids. */
  | { kind: "ids"; name: string }
  /** PANOPTIC_IDS [N, H, W] (or [N, 1, H, W]): class · labelDivisor + instance, negative = void. */
  | { kind: "panopticIds"; name: string }
  /** Panoptic-DeepLab heads: semantic logits [N, C, H, W], center [N, 1, H, W], offsets [N, 2, H, W]. */
  | { kind: "deeplab"; semantic: string; center: string; offset: string };

export interface ModelIo {
  inputName: string;
  /** Batch, height and width of the input when the model fixes them (null: dynamic). */
  fixedBatch: number | null;
  fixedHeight: number | null;
  fixedWidth: number | null;
  head: ModelHead;
  /** Output names to fetch, in head order. */
  fetches: string[];
}

interface SessionShape {
  inputNames: readonly string[];
  outputNames: readonly string[];
  inputMetadata: readonly ValueMetadata[];
  outputMetadata: readonly ValueMetadata[];
}

/**
 * Picks the outputs the task needs from the contract and checks them, and the input, against the
 * model's own metadata, so a model that does not match its contract fails before any image is
 * decoded, with a message naming the tensor. (Shapes the metadata leaves symbolic are checked
 * again on the first batch, in readHeadOutputs.)
 */
export function planModelIo(session: SessionShape, contract: RuntimeContract, task: EvaluationTask, numClasses: number, modelPath: string): ModelIo {
  const byKind = new Map<OutputKindName, { name: string; index: number }>();
  contract.outputs.forEach((o, index) => {
    if (!byKind.has(o.kind)) byKind.set(o.kind, { name: o.name, index });
  });
  const head = chooseHead(byKind, task, contract);
  const fetches = head.kind === "deeplab" ? [head.semantic, head.center, head.offset] : [head.name];

  for (const name of fetches) {
    const index = contract.outputs.findIndex((o) => o.name === name);
    if (!session.outputNames.includes(name)) {
      throw badInput(
        `model ${modelPath} has no output "${name}" (contract output ${contract.outputs[index].kind}); its outputs are ${session.outputNames.map((n) => `"${n}"`).join(", ")}`,
        `inference.outputs.${index}.name`,
        { output: name },
      );
    }
    const meta = session.outputMetadata[session.outputNames.indexOf(name)];
    if (meta?.isTensor) checkOutputMeta(name, contract.outputs[index].kind, meta, numClasses, modelPath, index);
  }

  if (!session.inputNames.includes(contract.inputName)) {
    throw badInput(`model ${modelPath} has no input "${contract.inputName}"; its inputs are ${session.inputNames.map((n) => `"${n}"`).join(", ")}`, "inference.inputName", { input: contract.inputName });
  }
  const meta = session.inputMetadata[session.inputNames.indexOf(contract.inputName)];
  let dims: ReadonlyArray<number | string> = [];
  if (meta?.isTensor) {
    if (meta.type !== "float32") throw badInput(`model input "${contract.inputName}" of ${modelPath} is ${meta.type}; the runtime feeds float32 images`, "inference.inputName");
    dims = meta.shape;
    if (dims.length > 0 && dims.length !== 4) throw badInput(`model input "${contract.inputName}" of ${modelPath} has rank ${dims.length}; images are fed as [N, 3, H, W]`, "inference.inputName");
    if (typeof dims[1] === "number" && dims[1] !== 3) throw badInput(`model input "${contract.inputName}" of ${modelPath} has ${dims[1]} channels; images are fed with 3`, "inference.inputName");
  }
  const fixed = (d: number | string | undefined) => (typeof d === "number" && d > 0 ? d : null);
  return { inputName: contract.inputName, fixedBatch: fixed(dims[0]), fixedHeight: fixed(dims[2]), fixedWidth: fixed(dims[3]), head, fetches };
}

function chooseHead(byKind: Map<OutputKindName, { name: string }>, task: EvaluationTask, contract: RuntimeContract): ModelHead {
  const name = (k: OutputKindName) => byKind.get(k)?.name;
  const listed = contract.outputs.map((o) => `${o.name} (${o.kind})`).join(", ");
  const deeplab = name("PANOPTIC_SEMANTIC") && name("PANOPTIC_CENTER") && name("PANOPTIC_OFFSET")
    ? { kind: "deeplab" as const, semantic: name("PANOPTIC_SEMANTIC")!, center: name("PANOPTIC_CENTER")!, offset: name("PANOPTIC_OFFSET")! }
    : null;
  if (task === "PANOPTIC") {
    if (name("PANOPTIC_IDS")) return { kind: "panopticIds", name: name("PANOPTIC_IDS")! };
    if (deeplab) return deeplab;
    throw badInput(`a PANOPTIC evaluation needs a PANOPTIC_IDS output or the three Panoptic-DeepLab outputs (PANOPTIC_SEMANTIC, PANOPTIC_CENTER, PANOPTIC_OFFSET); the contract lists ${listed}`, "inference.outputs");
  }
  if (name("SEMANTIC_LOGITS")) return { kind: "logits", name: name("SEMANTIC_LOGITS")! };
  if (name("SEMANTIC_IDS")) return { kind: "ids", name: name("SEMANTIC_IDS")! };
  if (name("PANOPTIC_SEMANTIC")) return { kind: "logits", name: name("PANOPTIC_SEMANTIC")! };
  if (name("PANOPTIC_IDS")) return { kind: "panopticIds", name: name("PANOPTIC_IDS")! };
  throw badInput(`a SEMANTIC evaluation needs a SEMANTIC_LOGITS, SEMANTIC_IDS, PANOPTIC_SEMANTIC or PANOPTIC_IDS output; the contract lists ${listed}`, "inference.outputs");
}

const FLOAT_KINDS: ReadonlySet<OutputKindName> = new Set(["SEMANTIC_LOGITS", "PANOPTIC_SEMANTIC", "PANOPTIC_CENTER", "PANOPTIC_OFFSET"]);
const INTEGER_TYPES: ReadonlySet<string> = new Set(["int64", "int32", "int16", "int8", "uint8", "uint16", "uint32"]);

/** The shape rules of each output kind, on whatever the metadata states (or the real tensor's dims). */
export function checkOutputShape(name: string, kind: OutputKindName, type: string, dims: ReadonlyArray<number | string>, numClasses: number, modelPath: string, field?: string): void {
  const fail = (what: string) => {
    throw badInput(`model ${modelPath}: output "${name}" (${kind}) ${what}`, field, { output: name });
  };
  if (FLOAT_KINDS.has(kind) && type !== "float32") fail(`is ${type}; expected float32`);
  if (!FLOAT_KINDS.has(kind) && !INTEGER_TYPES.has(type)) fail(`is ${type}; expected an integer type`);
  if (dims.length === 0) return;
  const shape = `[${dims.join(", ")}]`;
  switch (kind) {
    case "SEMANTIC_LOGITS":
    case "PANOPTIC_SEMANTIC":
      if (dims.length !== 4) fail(`has shape ${shape}; expected [N, C, H, W]`);
      if (typeof dims[1] === "number" && dims[1] !== numClasses) fail(`has ${dims[1]} channels but the dataset has ${numClasses} classes`);
      break;
    case "PANOPTIC_CENTER":
      if (dims.length !== 4 || (typeof dims[1] === "number" && dims[1] !== 1)) fail(`has shape ${shape}; expected [N, 1, H, W]`);
      break;
    case "PANOPTIC_OFFSET":
      if (dims.length !== 4 || (typeof dims[1] === "number" && dims[1] !== 2)) fail(`has shape ${shape}; expected [N, 2, H, W]`);
      break;
    case "SEMANTIC_IDS":
    case "PANOPTIC_IDS":
      if (!(dims.length === 3 || (dims.length === 4 && (typeof dims[1] !== "number" || dims[1] === 1)))) fail(`has shape ${shape}; expected [N, H, W] (or [N, 1, H, W])`);
      break;
  }
}

function checkOutputMeta(name: string, kind: OutputKindName, meta: Extract<ValueMetadata, { isTensor: true }>, numClasses: number, modelPath: string, index: number): void {
  checkOutputShape(name, kind, meta.type, meta.shape, numClasses, modelPath, `inference.outputs.${index}`);
}
