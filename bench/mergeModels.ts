/**
 * bench:merge's input models, built in code: a DeepLabV3 structure and its files in five formats,
 * written straight from typed arrays (never from JS arrays of numbers), one pass, bounded memory.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ProtoWriter, WIRE_LEN, varintSize } from "../src/core/formats/protobuf/protoWriter";

// ---------------------------------------------------------------------------------------------
// The shared structure
// ---------------------------------------------------------------------------------------------

export type Dtype = "F32" | "F16" | "BF16";

interface ParamSpec {
  name: string;
  dims: number[];
  elements: number;
}

/** One operator consuming parameters (Conv or BatchNormalization), in forward order. */
export interface LayerSpec {
  op: "Conv" | "BatchNormalization";
  input: string;
  output: string;
  params: ParamSpec[];
}

function param(name: string, dims: number[]): ParamSpec {
  return { name, dims, elements: dims.reduce((p, d) => p * d, 1) };
}

/**
 * DeepLabV3 on a bottleneck ResNet (torchvision naming), plus an FCN auxiliary head: convs
 * without bias followed by BatchNorm (weight, bias, running_mean, running_var), classifiers
 * with bias. Inputs chain naively (the graph only has to order the layers, not to run).
 */
function deeplabStructure(blocks: number[], classes = 19, asppChannels = 128): LayerSpec[] {
  const layers: LayerSpec[] = [];
  let current = "image";
  const conv = (prefix: string, cin: number, cout: number, k: number, bias = false, input = current) => {
    const out = `${prefix}.out`;
    layers.push({ op: "Conv", input, output: out, params: [param(`${prefix}.weight`, [cout, cin, k, k]), ...(bias ? [param(`${prefix}.bias`, [cout])] : [])] });
    return out;
  };
  const bn = (prefix: string, c: number, input: string) => {
    const out = `${prefix}.out`;
    layers.push({ op: "BatchNormalization", input, output: out, params: ["weight", "bias", "running_mean", "running_var"].map((p) => param(`${prefix}.${p}`, [c])) });
    return out;
  };
  current = bn("backbone.bn1", 64, conv("backbone.conv1", 3, 64, 7));
  let cin = 64;
  blocks.forEach((count, stage) => {
    const width = 64 << stage;
    for (let b = 0; b < count; b++) {
      const p = `backbone.layer${stage + 1}.${b}`;
      const input = current;
      let x = bn(`${p}.bn1`, width, conv(`${p}.conv1`, cin, width, 1, false, input));
      x = bn(`${p}.bn2`, width, conv(`${p}.conv2`, width, width, 3, false, x));
      x = bn(`${p}.bn3`, width * 4, conv(`${p}.conv3`, width, width * 4, 1, false, x));
      if (b === 0) bn(`${p}.downsample.1`, width * 4, conv(`${p}.downsample.0`, cin, width * 4, 1, false, input));
      current = x;
      cin = width * 4;
    }
  });
  const features = current;
  const branches = [
    bn("classifier.0.convs.0.1", asppChannels, conv("classifier.0.convs.0.0", 2048, asppChannels, 1, false, features)),
    ...[1, 2, 3].map((i) => bn(`classifier.0.convs.${i}.1`, asppChannels, conv(`classifier.0.convs.${i}.0`, 2048, asppChannels, 3, false, features))),
    bn("classifier.0.convs.4.2", asppChannels, conv("classifier.0.convs.4.1", 2048, asppChannels, 1, false, features)),
  ];
  let x = bn("classifier.0.project.1", asppChannels, conv("classifier.0.project.0", asppChannels * 5, asppChannels, 1, false, branches[4]));
  x = bn("classifier.2", asppChannels, conv("classifier.1", asppChannels, asppChannels, 3, false, x));
  current = conv("classifier.4", asppChannels, classes, 1, true, x);
  const aux = bn("aux_classifier.1", 256, conv("aux_classifier.0", 1024, 256, 3, false, features));
  conv("aux_classifier.4", 256, classes, 1, true, aux);
  return layers;
}

export const STRUCTURES: Record<"wide" | "deep", LayerSpec[]> = {
  wide: deeplabStructure([3, 4, 6, 3]),
  deep: deeplabStructure([3, 4, 23, 3]),
};

// ---------------------------------------------------------------------------------------------
// Model files, written straight from typed arrays
// ---------------------------------------------------------------------------------------------

export type FormatName = "onnx-f32-init" | "onnx-f32-constant" | "onnx-f32-typed" | "onnx-f16" | "safetensors-bf16";

export interface FormatSpec {
  name: FormatName;
  dtype: Dtype;
  structure: keyof typeof STRUCTURES;
  ext: string;
  describe: string;
}

export const FORMATS: FormatSpec[] = [
  { name: "onnx-f32-init", dtype: "F32", structure: "wide", ext: "onnx", describe: "ONNX fp32, initializers (raw_data)" },
  { name: "onnx-f32-constant", dtype: "F32", structure: "wide", ext: "onnx", describe: "ONNX fp32, Constant nodes (raw_data)" },
  { name: "onnx-f32-typed", dtype: "F32", structure: "wide", ext: "onnx", describe: "ONNX fp32, initializers (packed float_data)" },
  { name: "onnx-f16", dtype: "F16", structure: "deep", ext: "onnx", describe: "ONNX fp16, initializers (raw_data)" },
  { name: "safetensors-bf16", dtype: "BF16", structure: "deep", ext: "safetensors", describe: "safetensors bf16" },
];

const WIDTH: Record<Dtype, number> = { F32: 4, F16: 2, BF16: 2 };
const ONNX_TYPE: Record<Dtype, number> = { F32: 1, F16: 10, BF16: 16 };

/** A counter-based generator (xorshift32): a fresh, reproducible stream per (model, tensor). */
function fillRandom(out: Uint8Array, dtype: Dtype, seed: number, variance: boolean): void {
  let s = (seed * 0x9e3779b1 + 0x7f4a7c15) >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>>= 0);
  };
  if (dtype === "F32") {
    // exponent 118..125: |x| in [2^-9, 2^-2); running_var positive.
    const bits = new Uint32Array(out.buffer, out.byteOffset, out.byteLength / 4);
    for (let i = 0; i < bits.length; i++) {
      const r = next();
      const sign = variance ? 0 : (r & 8) << 28;
      bits[i] = (sign | ((118 + (r & 7)) << 23) | (r >>> 9)) >>> 0;
    }
    return;
  }
  const halves = new Uint16Array(out.buffer, out.byteOffset, out.byteLength / 2);
  for (let i = 0; i < halves.length; i++) {
    const r = next();
    const sign = variance ? 0 : (r & 8) << 12;
    // fp16: exponent 6..13 (|x| in [2^-9, 2^-2)); bf16: exponent 118..125, same range.
    halves[i] = dtype === "F16" ? sign | ((6 + (r & 7)) << 10) | (r >>> 22) : sign | ((118 + (r & 7)) << 7) | (r >>> 25);
  }
}

/** Sequential writer with a large staging buffer: few syscalls, bounded memory. */
class FileWriter {
  private readonly fd: number;
  private readonly buffer = Buffer.allocUnsafe(8 << 20);
  private used = 0;
  bytes = 0;
  constructor(file: string) {
    this.fd = fs.openSync(file, "w");
  }
  write(chunk: Uint8Array): void {
    this.bytes += chunk.byteLength;
    if (this.used + chunk.byteLength > this.buffer.length) this.flush();
    if (chunk.byteLength >= this.buffer.length) {
      writeAll(this.fd, chunk);
      return;
    }
    this.buffer.set(chunk, this.used);
    this.used += chunk.byteLength;
  }
  flush(): void {
    writeAll(this.fd, this.buffer.subarray(0, this.used));
    this.used = 0;
  }
  close(): void {
    this.flush();
    fs.closeSync(this.fd);
  }
}

function writeAll(fd: number, chunk: Uint8Array): void {
  for (let at = 0; at < chunk.byteLength; ) at += fs.writeSync(fd, chunk, at, chunk.byteLength - at);
}

const tagLen = (field: number, length: number) => new ProtoWriter().tag(field, WIRE_LEN).varint(length).finish();
const lenFieldSize = (field: number, length: number) => varintSize(field * 8 + WIRE_LEN) + varintSize(length) + length;

/** TensorProto fields before the payload (dims 1, data_type 2, name 8), then the payload's tag and length. */
function tensorHead(p: ParamSpec, dtype: Dtype, payloadField: 9 | 4): { head: Uint8Array; size: number } {
  const w = new ProtoWriter();
  for (const d of p.dims) w.varintField(1, d);
  w.varintField(2, ONNX_TYPE[dtype]).stringField(8, p.name).tag(payloadField, WIRE_LEN).varint(p.elements * WIDTH[dtype]);
  const head = w.finish();
  return { head, size: head.byteLength + p.elements * WIDTH[dtype] };
}

/**
 * An ONNX ModelProto written in one pass: every message length is known before its payload
 * (lengths are computed from the structure), so tensor bytes go from a typed array to the file.
 */
export function writeOnnx(file: string, layers: LayerSpec[], format: FormatSpec, seed: number): number {
  const { dtype } = format;
  const constants = format.name === "onnx-f32-constant";
  const payloadField = format.name === "onnx-f32-typed" ? 4 : 9;
  // Graph parts: small framing bytes, or a tensor payload to generate.
  type Part = Uint8Array | { param: ParamSpec; variance: boolean; seed: number };
  const parts: Part[] = [];
  let graphSize = 0;
  const push = (p: Part, size: number) => {
    parts.push(p);
    graphSize += size;
  };
  let tensorSeed = seed * 100_000;
  const payload = (p: ParamSpec) => push({ param: p, variance: p.name.endsWith("running_var"), seed: tensorSeed++ }, p.elements * WIDTH[dtype]);
  const node = (op: string, inputs: string[], outputs: string[]) => {
    const w = new ProtoWriter();
    for (const i of inputs) w.stringField(1, i);
    for (const o of outputs) w.stringField(2, o);
    w.stringField(4, op);
    return w.finish();
  };
  if (constants) {
    // NodeProto { output 2, op_type 4, attribute 5 { name 1, type 20 = TENSOR, t 5 { TensorProto } } }.
    for (const layer of layers) {
      for (const p of layer.params) {
        const t = tensorHead(p, dtype, 9);
        const attrFields = new ProtoWriter().stringField(1, "value").varintField(20, 4).finish();
        const attrSize = attrFields.byteLength + lenFieldSize(5, t.size);
        const nodeFields = node("Constant", [], [p.name]);
        const nodeSize = nodeFields.byteLength + lenFieldSize(5, attrSize);
        const prefix = Buffer.concat([tagLen(1, nodeSize), nodeFields, tagLen(5, attrSize), attrFields, tagLen(5, t.size), t.head]);
        push(prefix, prefix.byteLength);
        payload(p);
      }
    }
  }
  for (const layer of layers) {
    const n = node(layer.op, [layer.input, ...layer.params.map((p) => p.name)], [layer.output]);
    push(Buffer.concat([tagLen(1, n.byteLength), n]), lenFieldSize(1, n.byteLength));
  }
  const graphName = new ProtoWriter().stringField(2, "deeplabv3").finish();
  push(graphName, graphName.byteLength);
  if (!constants) {
    for (const layer of layers) {
      for (const p of layer.params) {
        const t = tensorHead(p, dtype, payloadField);
        const prefix = Buffer.concat([tagLen(5, t.size), t.head]);
        push(prefix, prefix.byteLength);
        payload(p);
      }
    }
  }
  const valueInfo = (field: number, name: string, shape: number[]) =>
    new ProtoWriter()
      .messageField(field, (v) =>
        v.stringField(1, name).messageField(2, (type) =>
          type.messageField(1, (tt) => tt.varintField(1, ONNX_TYPE[dtype]).messageField(2, (s) => shape.forEach((d) => s.messageField(1, (dim) => dim.varintField(1, d))))),
        ),
      )
      .finish();
  const io = [valueInfo(11, "image", [1, 3, 512, 512]), valueInfo(12, layers[layers.length - 1].output, [1, 19, 64, 64])];
  for (const b of io) push(b, b.byteLength);

  const out = new FileWriter(file);
  out.write(new ProtoWriter().varintField(1, 8).stringField(2, "layermerge-bench").finish());
  out.write(tagLen(7, graphSize));
  for (const part of parts) {
    if (part instanceof Uint8Array) out.write(part);
    else {
      const bytes = new Uint8Array(part.param.elements * WIDTH[dtype]);
      fillRandom(bytes, dtype, part.seed, part.variance);
      out.write(bytes);
    }
  }
  out.write(new ProtoWriter().messageField(8, (o) => o.varintField(2, 17)).finish());
  out.close();
  return out.bytes;
}

/** safetensors: 8-byte header length, JSON header (tensors in forward order), data. */
export function writeSafetensorsFile(file: string, layers: LayerSpec[], dtype: Dtype, seed: number): number {
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let offset = 0;
  const params = layers.flatMap((l) => l.params);
  for (const p of params) {
    const length = p.elements * WIDTH[dtype];
    header[p.name] = { dtype, shape: p.dims, data_offsets: [offset, offset + length] };
    offset += length;
  }
  let text = Buffer.from(JSON.stringify(header), "utf8");
  text = Buffer.concat([text, Buffer.alloc((8 - (text.byteLength % 8)) % 8, 0x20)]);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(text.byteLength));
  const out = new FileWriter(file);
  out.write(length);
  out.write(text);
  let tensorSeed = seed * 100_000;
  for (const p of params) {
    const bytes = new Uint8Array(p.elements * WIDTH[dtype]);
    fillRandom(bytes, dtype, tensorSeed++, p.name.endsWith("running_var"));
    out.write(bytes);
  }
  out.close();
  return out.bytes;
}

/** The format's four models in `dir` (written unless already there, e.g. kept by `--dir`), anchor first. */
export function ensureModels(format: FormatSpec, dir: string): string[] {
  const layers = STRUCTURES[format.structure];
  return [0, 1, 2, 3].map((m) => {
    const file = path.join(dir, `${format.name}-${m}.${format.ext}`);
    if (!fs.existsSync(file)) {
      if (format.ext === "onnx") writeOnnx(file, layers, format, m + 1);
      else writeSafetensorsFile(file, layers, format.dtype, m + 1);
    }
    return file;
  });
}
