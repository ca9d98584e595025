import { badInput, invariant } from "../core/errors";
import type { OutputValue } from "./inferenceProtocol";
import { checkOutputShape, type ModelHead } from "./planModelIo";
import type { OutputKindName } from "./runtimeContract";

export interface FloatMap {
  data: Float32Array;
  channels: number;
  height: number;
  width: number;
}

export interface IdMap {
  data: Int32Array;
  height: number;
  width: number;
}

/** One batch item's predictions, views into the batch outputs (no copy for float32). */
export type ItemPrediction =
  | { kind: "logits"; logits: FloatMap }
  | { kind: "ids"; ids: IdMap }
  | { kind: "panopticIds"; ids: IdMap }
  | { kind: "deeplab"; semantic: FloatMap; center: FloatMap; offset: FloatMap };

/**
 * Splits the outputs of one session.run over `batch` items, checking the real tensors against the
 * contract (the metadata may leave dims symbolic): type, rank, channels, batch size.
 */
export function readHeadOutputs(outputs: Record<string, OutputValue>, head: ModelHead, kinds: ReadonlyMap<string, OutputKindName>, batch: number, numClasses: number, modelPath: string): ItemPrediction[] {
  const tensor = (name: string) => {
    const t = outputs[name] as OutputValue | undefined;
    invariant(t !== undefined, `session.run returned the fetched output ${name}`);
    const kind = kinds.get(name)!;
    checkOutputShape(name, kind, t.type, t.dims, numClasses, modelPath);
    if (t.dims[0] !== batch) throw badInput(`model ${modelPath}: output "${name}" has batch size ${t.dims[0]} for ${batch} input image(s)`, undefined, { output: name });
    return t;
  };
  const items: ItemPrediction[] = [];
  if (head.kind === "logits") {
    const t = tensor(head.name);
    for (let i = 0; i < batch; i++) items.push({ kind: "logits", logits: floatItem(t, i) });
  } else if (head.kind === "ids" || head.kind === "panopticIds") {
    const t = tensor(head.name);
    for (let i = 0; i < batch; i++) items.push({ kind: head.kind, ids: idItem(t, i) } as ItemPrediction);
  } else {
    const s = tensor(head.semantic);
    const c = tensor(head.center);
    const o = tensor(head.offset);
    for (let i = 0; i < batch; i++) items.push({ kind: "deeplab", semantic: floatItem(s, i), center: floatItem(c, i), offset: floatItem(o, i) });
  }
  return items;
}

function floatItem(t: OutputValue, i: number): FloatMap {
  const [, channels, height, width] = t.dims;
  const n = channels * height * width;
  return { data: (t.data as Float32Array).subarray(i * n, (i + 1) * n), channels, height, width };
}

function idItem(t: OutputValue, i: number): IdMap {
  const height = t.dims[t.dims.length - 2];
  const width = t.dims[t.dims.length - 1];
  const n = height * width;
  const base = i * n;
  // By the tensor's type name, not instanceof: arrays may come from another realm (jest, threads).
  if (t.type === "int32") return { data: (t.data as Int32Array).subarray(base, base + n), height, width };
  const data = new Int32Array(n);
  if (t.type === "int64" || t.type === "uint64") {
    const src = t.data as BigInt64Array;
    for (let k = 0; k < n; k++) data[k] = Number(src[base + k]);
  } else {
    const src = t.data as ArrayLike<number>;
    for (let k = 0; k < n; k++) data[k] = src[base + k];
  }
  return { data, height, width };
}
