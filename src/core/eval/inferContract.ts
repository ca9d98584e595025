/**
 * An inference contract read from an ONNX graph's inputs and outputs, for a model registered
 * without one. The file says the input's name and size and the outputs' types and shapes; it does
 * not say the colour order, the normalisation or how Panoptic-DeepLab's offsets are ordered, so
 * those are mmsegmentation's defaults, and every guess is named in `notes`.
 */

/** A graph input or output as the ONNX reader lists it (dims numeric, symbolic, or null when unknown). */
export interface GraphValue {
  name: string;
  /** ONNX element type name: FLOAT, INT64… */
  elemType: string;
  shape?: ReadonlyArray<number | string | null>;
}

export type ContractField = "inputName" | "width" | "height" | "resize" | "channelOrder" | "mean" | "std" | "normalization" | "outputs" | "postprocess";

export type InferredOutputKind = "SEMANTIC_LOGITS" | "SEMANTIC_IDS" | "PANOPTIC_IDS" | "PANOPTIC_SEMANTIC" | "PANOPTIC_CENTER" | "PANOPTIC_OFFSET";

export interface InferredContract {
  /** The fields the graph gave or the defaults filled; a field that could not be inferred is absent. */
  fields: {
    inputName?: string;
    width?: number;
    height?: number;
    resize?: { mode: "FIXED" | "KEEP_RATIO" };
    channelOrder: "RGB";
    mean: number[];
    std: number[];
    normalization: "DIVIDE";
    outputs?: Array<{ name: string; kind: InferredOutputKind }>;
  };
  /** What was guessed rather than read, each with the fields it concerns. */
  notes: Array<{ fields: ContractField[]; text: string }>;
  /** What could not be inferred at all, and why. */
  missing: Array<{ field: ContractField; reason: string }>;
}

/** mmsegmentation's `img_norm_cfg` default (ImageNet statistics on the 0–255 scale, RGB). */
export const MMSEG_MEAN = [123.675, 116.28, 103.53];
export const MMSEG_STD = [58.395, 57.12, 57.375];
/** mmsegmentation's Cityscapes test scale, `Resize(scale=(2048, 512), keep_ratio=True)`. */
export const MMSEG_CITYSCAPES_SCALE = { width: 2048, height: 512 };

const FLOAT_TYPES = new Set(["FLOAT"]);
const INTEGER_TYPES = new Set(["INT64", "INT32", "INT16", "INT8", "UINT8", "UINT16", "UINT32"]);

const show = (v: GraphValue) => `"${v.name}" ${v.elemType}${v.shape ? ` [${v.shape.map((d) => d ?? "?").join(", ")}]` : ""}`;
const numeric = (d: number | string | null | undefined): number | null => (typeof d === "number" && d > 0 ? d : null);

export function inferContract(graph: { inputs: readonly GraphValue[]; outputs: readonly GraphValue[] }, task: "SEMANTIC" | "PANOPTIC" | string): InferredContract {
  const result: InferredContract = {
    fields: { channelOrder: "RGB", mean: [...MMSEG_MEAN], std: [...MMSEG_STD], normalization: "DIVIDE" },
    notes: [
      {
        fields: ["channelOrder", "mean", "std", "normalization"],
        text: `channelOrder, mean, std, normalization: not in the file; mmsegmentation's defaults assumed (RGB, ImageNet mean [${MMSEG_MEAN.join(", ")}] and std [${MMSEG_STD.join(", ")}] on 0–255, DIVIDE)`,
      },
    ],
    missing: [],
  };
  inferInput(graph.inputs, result);
  inferOutputs(graph.outputs, task, result);
  return result;
}

function inferInput(inputs: readonly GraphValue[], result: InferredContract): void {
  if (inputs.length !== 1) {
    const listed = inputs.length ? inputs.map(show).join(", ") : "none";
    result.missing.push({ field: "inputName", reason: `the graph has ${inputs.length} inputs (${listed}); one image input is needed to pick it` });
    return;
  }
  const input = inputs[0];
  if (!FLOAT_TYPES.has(input.elemType)) {
    result.missing.push({ field: "inputName", reason: `the graph's input ${show(input)} is not float32; the runtime feeds float32 images` });
    return;
  }
  const dims = input.shape;
  if (dims && (dims.length !== 4 || (numeric(dims[1]) !== null && dims[1] !== 3))) {
    const nhwc = dims.length === 4 && dims[3] === 3 ? " (NHWC is not supported)" : "";
    result.missing.push({ field: "inputName", reason: `the graph's input ${show(input)} is not an NCHW image with 3 channels${nhwc}` });
    return;
  }
  result.fields.inputName = input.name;
  const height = numeric(dims?.[2]);
  const width = numeric(dims?.[3]);
  if (height !== null && width !== null) {
    result.fields.width = width;
    result.fields.height = height;
    result.fields.resize = { mode: "FIXED" };
    return;
  }
  result.fields.width = MMSEG_CITYSCAPES_SCALE.width;
  result.fields.height = MMSEG_CITYSCAPES_SCALE.height;
  result.fields.resize = { mode: "KEEP_RATIO" };
  result.notes.push({
    fields: ["width", "height", "resize"],
    text: `width, height, resize: the input's height and width are not fixed by the file; KEEP_RATIO at mmsegmentation's Cityscapes scale ${MMSEG_CITYSCAPES_SCALE.width}×${MMSEG_CITYSCAPES_SCALE.height} assumed`,
  });
}

/**
 * The head from the outputs: three float [N, C, H, W] outputs of which one has 1 channel and one
 * 2 are Panoptic-DeepLab (semantic, center, offset); otherwise, for a panoptic task, one integer
 * [N, H, W] output is panoptic ids; one float [N, C, H, W] output is semantic logits; one integer
 * [N, H, W] output (and no float one) is class ids.
 */
function inferOutputs(outputs: readonly GraphValue[], task: string, result: InferredContract): void {
  const floats = outputs.filter((o) => FLOAT_TYPES.has(o.elemType) && (!o.shape || o.shape.length === 4));
  const integers = outputs.filter((o) => INTEGER_TYPES.has(o.elemType) && (!o.shape || o.shape.length === 3 || (o.shape.length === 4 && (numeric(o.shape[1]) ?? 1) === 1)));
  const channels = (o: GraphValue) => numeric(o.shape?.[1]);
  if (floats.length === 3) {
    const center = floats.filter((o) => channels(o) === 1);
    const offset = floats.filter((o) => channels(o) === 2);
    const semantic = floats.filter((o) => o !== center[0] && o !== offset[0]);
    if (center.length === 1 && offset.length === 1 && semantic.length === 1) {
      result.fields.outputs = [
        { name: semantic[0].name, kind: "PANOPTIC_SEMANTIC" },
        { name: center[0].name, kind: "PANOPTIC_CENTER" },
        { name: offset[0].name, kind: "PANOPTIC_OFFSET" },
      ];
      result.notes.push({
        fields: ["postprocess"],
        text: `postprocess.offsetOrder: the file does not say which offset channel is dy; YX (channel 0 = dy, as Panoptic-DeepLab's reference) assumed — check "${offset[0].name}"`,
      });
      return;
    }
  }
  // A panoptic model is scored on its panoptic ids; a semantic one on its logits when it has them.
  if (task === "PANOPTIC" && integers.length === 1) {
    result.fields.outputs = [{ name: integers[0].name, kind: "PANOPTIC_IDS" }];
    return;
  }
  if (floats.length === 1) {
    result.fields.outputs = [{ name: floats[0].name, kind: "SEMANTIC_LOGITS" }];
    return;
  }
  if (floats.length === 0 && integers.length === 1) {
    result.fields.outputs = [{ name: integers[0].name, kind: "SEMANTIC_IDS" }];
    return;
  }
  const listed = outputs.length ? outputs.map(show).join(", ") : "none";
  result.missing.push({
    field: "outputs",
    reason: `the outputs (${listed}) are not one float [N, C, H, W] output, one integer [N, H, W] output, nor Panoptic-DeepLab's semantic, 1-channel center and 2-channel offset outputs`,
  });
}
