import * as fs from "node:fs";
import { FileByteSource } from "../core/formats/byteSource";
import { parseModelFile } from "../core/formats/parseModelFile";
import { readTensorBytes } from "../core/formats/onnx/readTensorBytes";
import { decodeInto } from "../core/merge/decodeFloats";
import { addDeltaPair, addPair, cosineOf, emptySums, mergeSums, type CosineSums } from "../core/similarity/cosineSums";
import { DTYPE_BYTES, type ParsedModel, type TensorInfo } from "../core/structure/types";
import { badInput } from "../core/errors";
import { contiguousOffset } from "./runMerge";

export interface SimilaritySide {
  /** A local file holding the model's artifact. */
  file: string;
  /** Its layout as recorded at registration; parsed from the file when absent. */
  layout: ParsedModel | null;
}

export interface PairSimilarityPayload {
  a: SimilaritySide;
  b: SimilaritySide;
  /** The common ancestor whose weights the deltas are taken from. */
  ancestor: SimilaritySide | null;
  /** The compared tensors: a's name, b's name, the ancestor's name (a's when absent) and the group (a's) each counts in. */
  tensors: Array<{ group: string; a: string; b: string; c?: string }>;
}

export interface GroupSimilarity {
  prefix: string;
  tensors: number;
  elements: number;
  cosine: number | null;
  ancestorCosine: number | null;
}

export interface PairSimilarityResult {
  cosine: number | null;
  ancestorCosine: number | null;
  groups: GroupSimilarity[];
  tensorCount: number;
  elements: number;
}

/**
 * Elements per read. Three sides of float64 values plus their bytes stay under ~8 MiB whatever the
 * models' size; a tensor stored in pieces (unpacked fields) is read whole instead.
 */
const CHUNK_ELEMENTS = 1 << 18;

interface OpenSide {
  parsed: ParsedModel;
  byName: Map<string, TensorInfo>;
  source: FileByteSource;
  fd: number;
  file: string;
  bytes: Uint8Array;
  values: Float64Array;
}

function open(side: SimilaritySide): OpenSide {
  const parsed = side.layout ?? parseModelFile(side.file);
  const source = new FileByteSource(side.file, 4 << 10);
  let fd: number;
  try {
    fd = fs.openSync(side.file, "r");
  } catch (error) {
    source.close();
    throw error;
  }
  return { parsed, byName: new Map(parsed.tensors.map((t) => [t.name, t])), source, fd, file: side.file, bytes: new Uint8Array(CHUNK_ELEMENTS * 8), values: new Float64Array(CHUNK_ELEMENTS) };
}

function close(side: OpenSide): void {
  side.source.close();
  fs.closeSync(side.fd);
}

/** Reads elements [start, start + count) of `tensor` as float64 (a view valid until the next read). */
function reader(side: OpenSide, tensor: TensorInfo): (start: number, count: number) => Float64Array {
  const offset = contiguousOffset(tensor);
  const width = DTYPE_BYTES[tensor.dtype];
  if (offset === null) {
    const whole = new Float64Array(tensor.elements);
    decodeInto(readTensorBytes(side.source, tensor), tensor.dtype, whole);
    return (start, count) => whole.subarray(start, start + count);
  }
  return (start, count) => {
    const into = side.bytes.subarray(0, count * width);
    for (let done = 0; done < into.byteLength; ) {
      const n = fs.readSync(side.fd, into, done, into.byteLength - done, offset + start * width + done);
      if (n === 0) throw badInput(`${side.file} ended inside tensor ${tensor.name}; is its recorded layout stale?`);
      done += n;
    }
    const out = side.values.subarray(0, count);
    decodeInto(into, tensor.dtype, out);
    return out;
  };
}

function tensorOf(side: OpenSide, name: string, role: string): TensorInfo {
  const t = side.byName.get(name);
  if (!t) throw badInput(`the ${role} model has no tensor ${JSON.stringify(name)}`);
  return t;
}

/**
 * Cosine similarity of two models' compared tensors, concatenated (per group and over all), and
 * of their differences from the ancestor's, in float64. Reads stream tensor by tensor in chunks.
 */
export function pairSimilarity(payload: PairSimilarityPayload): PairSimilarityResult {
  const opened: OpenSide[] = [];
  const track = (s: SimilaritySide) => {
    const o = open(s);
    opened.push(o);
    return o;
  };
  try {
    const a = track(payload.a);
    const b = track(payload.b);
    const c = payload.ancestor ? track(payload.ancestor) : null;
    const groups = new Map<string, { info: GroupSimilarity; sums: CosineSums; delta: CosineSums }>();
    const total = { sums: emptySums(), delta: emptySums(), elements: 0 };
    for (const pair of payload.tensors) {
      const ta = tensorOf(a, pair.a, "first");
      const tb = tensorOf(b, pair.b, "second");
      const tc = c ? tensorOf(c, pair.c ?? pair.a, "ancestor") : null;
      const n = ta.elements;
      if (tb.elements !== n || (tc && tc.elements !== n)) throw badInput(`tensor ${pair.a} has different element counts on the compared models`);
      let g = groups.get(pair.group);
      if (!g) groups.set(pair.group, (g = { info: { prefix: pair.group, tensors: 0, elements: 0, cosine: null, ancestorCosine: null }, sums: emptySums(), delta: emptySums() }));
      g.info.tensors++;
      g.info.elements += n;
      const readA = reader(a, ta);
      const readB = reader(b, tb);
      const readC = c && tc ? reader(c, tc) : null;
      for (let start = 0; start < n; start += CHUNK_ELEMENTS) {
        const count = Math.min(CHUNK_ELEMENTS, n - start);
        const x = readA(start, count);
        const y = readB(start, count);
        addPair(g.sums, x, y, count);
        if (readC) addDeltaPair(g.delta, x, y, readC(start, count), count);
      }
    }
    for (const g of groups.values()) {
      g.info.cosine = cosineOf(g.sums);
      g.info.ancestorCosine = c ? cosineOf(g.delta) : null;
      mergeSums(total.sums, g.sums);
      mergeSums(total.delta, g.delta);
      total.elements += g.info.elements;
    }
    return {
      cosine: cosineOf(total.sums),
      ancestorCosine: c ? cosineOf(total.delta) : null,
      groups: [...groups.values()].map((g) => g.info),
      tensorCount: payload.tensors.length,
      elements: total.elements,
    };
  } finally {
    for (const o of opened) close(o);
  }
}
