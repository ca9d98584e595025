import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DomainError } from "../../errors";
import type { ParsedModel } from "../../structure/types";
import { bufferSource } from "../byteSource";
import { ProtoWriter } from "../protobuf/protoWriter";
import { openExternalData } from "./externalData";
import { parseOnnx, type OnnxMetadata } from "./parseOnnx";
import { readTensorBytes } from "./readTensorBytes";
import { buildSegNet, type SegNetOptions } from "./testing/buildSegNet";
import { type TestModel, writeOnnxModel } from "./testing/onnxModelWriter";

function decode(bytes: Uint8Array, dtype: string): number[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  const width = { F32: 4, F16: 2, I8: 1, U8: 1, F64: 8 }[dtype]!;
  for (let i = 0; i < bytes.length / width; i++) {
    if (dtype === "F32") out.push(v.getFloat32(i * 4, true));
    else if (dtype === "F64") out.push(v.getFloat64(i * 8, true));
    else if (dtype === "I8") out.push(v.getInt8(i));
    else if (dtype === "U8") out.push(v.getUint8(i));
    else {
      // fp16 decoded by hand here (not with the writer's helper): sign · 2^(e-15) · (1 + m/1024)
      const h = v.getUint16(i * 2, true);
      const e = (h >> 10) & 31;
      const m = h & 1023;
      out.push((h & 0x8000 ? -1 : 1) * (e === 0 ? m * 2 ** -24 : 2 ** (e - 15) * (1 + m / 1024)));
    }
  }
  return out;
}

function expectBadInput(run: () => unknown, fragment: string | RegExp): void {
  let error: unknown;
  try {
    run();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).code).toBe("BAD_USER_INPUT");
  expect((error as DomainError).message).toMatch(fragment);
}

function compareWithDescription(options: SegNetOptions, parse: (bytes: Uint8Array) => ParsedModel = (b) => parseOnnx(bufferSource(b))): void {
  const net = buildSegNet(options);
  const parsed = parse(net.bytes);
  const d = net.description;
  expect(parsed.format).toBe("onnx");
  expect(parsed.layerOrderSource).toBe("GRAPH");
  expect(parsed.tensors.map((t) => [t.name, t.shape, t.dtype, t.mergeable, t.layerIndex, t.group])).toEqual(
    d.tensors.map((t) => [t.name, t.shape, t.dtype, t.mergeable, t.layerIndex, t.group]),
  );
  expect(parsed.layerCount).toBe(d.layerCount);
  expect(parsed.generatedNameCount).toBe(d.generatedNameCount);
  expect(parsed.tensors.filter((t) => t.mergeable).reduce((s, t) => s + t.elements, 0)).toBe(d.parameterCount);
  if (!net.external) {
    for (const [i, t] of parsed.tensors.entries()) {
      expect(decode(readTensorBytes(bufferSource(net.bytes), t), t.dtype)).toEqual(d.tensors[i].values);
    }
  }
}

describe("parseOnnx on writer-made segmentation nets", () => {
  it("counts head A's parameters as computed by hand", () => {
    const parsed = parseOnnx(bufferSource(buildSegNet({ inChannels: 3, width: 8, classes: 4 }).bytes));
    // stem 8·3·3·3 = 216 + 8, layer1 8·8·3·3 = 576 + 8, gamma 8, conv_seg 4·8·1·1 = 32 + 4 → 852
    expect(parsed.tensors.filter((t) => t.mergeable).reduce((s, t) => s + t.elements, 0)).toBe(852);
    // layers: stem Conv, layer1 Conv, gamma Mul, conv_seg Conv (the scalar Mul and Resize scales are not parameters)
    expect(parsed.layerCount).toBe(4);
    expect(parsed.tensors.map((t) => t.name)).not.toContain("backbone.layer1.half");
    expect(parsed.tensors.map((t) => t.name)).not.toContain("resize_scales_nc");
    expect(new Set(parsed.tensors.map((t) => t.group))).toEqual(new Set(["backbone", "decode_head"]));
  });

  const variants: Array<[string, SegNetOptions]> = [
    ["fp32 raw initializers", {}],
    ["fp16 raw initializers", { dtype: "F16" }],
    ["fp32 Constant nodes", { constants: "constant" }],
    ["fp16 Constant nodes, typed int32_data", { dtype: "F16", constants: "constant", encoding: "typed" }],
    ["fp32 typed float_data", { encoding: "typed" }],
    ["fp32 unpacked float_data", { encoding: "typed-unpacked" }],
    ["fp16 unpacked int32_data", { dtype: "F16", encoding: "typed-unpacked" }],
    ["fp16 with Casts appended (unsorted)", { dtype: "F16", nodeOrder: "unsorted" }],
    ["fp32 with the stem Conv appended (unsorted)", { nodeOrder: "unsorted", heads: "B" }],
    ["head B", { heads: "B" }],
    ["quantized (DequantizeLinear + ConvInteger)", { quantized: true }],
    ["quantized, typed Constant nodes", { quantized: true, constants: "constant", encoding: "typed" }],
    ["generated bias names", { generatedNames: true }],
  ];
  it.each(variants)("%s matches the builder's description", (_label, options) => compareWithDescription(options));

  it("gives the same structure for a sorted and an unsorted node list", () => {
    const a = parseOnnx(bufferSource(buildSegNet({ dtype: "F16" }).bytes));
    const b = parseOnnx(bufferSource(buildSegNet({ dtype: "F16", nodeOrder: "unsorted" }).bytes));
    expect(b.tensors.map((t) => [t.name, t.layerIndex])).toEqual(a.tensors.map((t) => [t.name, t.layerIndex]));
    expect((a.metadata as unknown as OnnxMetadata).nodeOrderRepaired).toBe(false);
    expect((b.metadata as unknown as OnnxMetadata).nodeOrderRepaired).toBe(true);
  });

  it("flags generated names and puts them in the (generated) group", () => {
    const parsed = parseOnnx(bufferSource(buildSegNet({ generatedNames: true }).bytes));
    // one generated bias per Conv: stem, layer1, conv_seg
    expect(parsed.generatedNameCount).toBe(3);
    expect(parsed.tensors.filter((t) => t.group === "(generated)").map((t) => t.name)).toEqual(["onnx::Conv_100", "onnx::Conv_101", "onnx::Conv_102"]);
  });

  it("records opset, producer, graph inputs/outputs with symbolic dims and metadata_props", () => {
    const net = buildSegNet({ heads: "B" });
    const bytes = writeOnnxModel({ ...net.model, metadataProps: { "layermerge.note": "hello" }, opset: [{ domain: "", version: 17 }, { domain: "com.microsoft", version: 1 }] }).bytes;
    const m = parseOnnx(bufferSource(bytes)).metadata as unknown as OnnxMetadata;
    expect(m.irVersion).toBe(8);
    expect(m.opset).toEqual({ "ai.onnx": 17, "com.microsoft": 1 });
    expect(m.producerName).toBe("layermerge-test-writer");
    expect(m.inputs).toEqual([{ name: "image", elemType: "FLOAT", shape: ["N", 3, 16, 16] }]);
    expect(m.outputs).toEqual([{ name: "logits", elemType: "FLOAT", shape: ["N", 4, 16, 16] }]);
    expect(m.metadataProps).toEqual({ "layermerge.note": "hello" });
    expect(m.nodeCount).toBe(net.description.nodeCount);
  });
});

describe("parseOnnx classification rules on hand-made graphs", () => {
  const base = (nodes: TestModel["nodes"], initializers: TestModel["initializers"]): Uint8Array =>
    writeOnnxModel({ inputs: [{ name: "x", dtype: "F32", shape: [1, 4] }], outputs: [{ name: "y", dtype: "F32", shape: [1, 4] }], nodes, initializers }).bytes;

  it("looks through Cast and Identity to a Gemm weight; a 1-element weight-slot bias is still a parameter", () => {
    const bytes = base(
      [
        { opType: "Cast", inputs: ["fc.weight_f16"], outputs: ["w32"], attributes: [{ name: "to", int: 1 }] },
        { opType: "Identity", inputs: ["w32"], outputs: ["w"] },
        { opType: "Gemm", inputs: ["x", "w", "fc.bias"], outputs: ["g"] },
        // hard-swish's 6: a scalar outside weight slots is not a parameter
        { opType: "Add", inputs: ["g", "six"], outputs: ["y0"] },
        // a [1, 4] shape for Reshape is not a parameter even though it is floating… it is I64 here and not listed
        { opType: "Reshape", inputs: ["y0", "shape"], outputs: ["y"] },
      ],
      [
        { name: "fc.weight_f16", dtype: "F16", dims: [4, 4], values: Array(16).fill(0.5) },
        { name: "fc.bias", dtype: "F32", dims: [1], values: [1] },
        { name: "six", dtype: "F32", dims: [], values: [6] },
        { name: "shape", dtype: "I64", dims: [2], values: [1, 4] },
      ],
    );
    const p = parseOnnx(bufferSource(bytes));
    expect(p.tensors.map((t) => [t.name, t.layerIndex, t.mergeable, t.group])).toEqual([
      ["fc.weight_f16", 0, true, "fc"],
      ["fc.bias", 0, true, "fc"],
    ]);
    expect(p.layerCount).toBe(1);
  });

  it("assigns a parameter used twice to the earlier node's layer, in forward (not list) order", () => {
    // list order: mul2 (consumes a), mul1 (produces a, consumes s); forward order: mul1, mul2.
    const bytes = base(
      [
        { opType: "Mul", inputs: ["a", "s"], outputs: ["y"], name: "mul2" },
        { opType: "Mul", inputs: ["x", "s"], outputs: ["a"], name: "mul1" },
      ],
      [{ name: "s", dtype: "F32", dims: [4], values: [1, 2, 3, 4] }],
    );
    const p = parseOnnx(bufferSource(bytes));
    expect(p.tensors.map((t) => [t.name, t.layerIndex])).toEqual([["s", 0]]);
    expect(p.layerCount).toBe(1);
  });

  it("does not list floating constants that only feed shapes through arithmetic", () => {
    const bytes = base(
      [
        { opType: "Shape", inputs: ["x"], outputs: ["sh"] },
        { opType: "Cast", inputs: ["sh"], outputs: ["shf"], attributes: [{ name: "to", int: 1 }] },
        { opType: "Mul", inputs: ["shf", "factor"], outputs: ["scaled"] },
        { opType: "Cast", inputs: ["scaled"], outputs: ["sizes"], attributes: [{ name: "to", int: 7 }] },
        { opType: "Add", inputs: ["x", "bias"], outputs: ["xb"] },
        { opType: "Resize", inputs: ["xb", "", "", "sizes"], outputs: ["y"] },
      ],
      [
        { name: "factor", dtype: "F32", dims: [2], values: [1, 2] },
        { name: "bias", dtype: "F32", dims: [4], values: [0.1, 0.2, 0.3, 0.4] },
      ],
    );
    expect(parseOnnx(bufferSource(bytes)).tensors.map((t) => t.name)).toEqual(["bias"]);
  });
});

describe("parseOnnx rejects bad input with BAD_USER_INPUT", () => {
  const good = buildSegNet().bytes;
  const one = (t: TestModel["initializers"][number]) =>
    writeOnnxModel({ inputs: [], outputs: [], nodes: [{ opType: "Conv", inputs: ["x", t.name], outputs: ["y"] }], initializers: [t] }).bytes;

  it("names the problem", () => {
    expectBadInput(() => parseOnnx(bufferSource(new Uint8Array(0))), /empty/);
    expectBadInput(() => parseOnnx(bufferSource(Uint8Array.from([0x08, 0x01]))), /no graph/);
    expectBadInput(() => parseOnnx(bufferSource(good.subarray(0, good.length - 40))), /truncated or corrupt at byte \d+/);
    // [2, 2] FLOAT needs 2·2·4 = 16 bytes; 3 values give 12
    expectBadInput(() => parseOnnx(bufferSource(one({ name: "w", dtype: "F32", dims: [2, 2], values: [1, 2, 3] }))), /tensor "w" has 12 bytes of raw_data.*needs 16/);
    expectBadInput(() => parseOnnx(bufferSource(one({ name: "w", dtype: "F32", dims: [2, 2], values: [1, 2, 3], encoding: "typed" }))), /tensor "w" has 3 values in float_data.*needs 4/);
    expectBadInput(() => parseOnnx(bufferSource(one({ name: "w", dtype: "F32", dims: [-1, 2], values: [] }))), /tensor "w" has invalid dimension -1/);
    // 2^21 · 2^20 = 2^41 > 2^40
    expectBadInput(() => parseOnnx(bufferSource(one({ name: "w", dtype: "F32", dims: [2 ** 21, 2 ** 20], values: [] }))), /tensor "w" has more than 2\^40 elements/);
  });

  it("rejects sparse initializers clearly", () => {
    const w = new ProtoWriter().varintField(1, 8).messageField(7, (g) => g.messageField(15, (s) => s.messageField(1, (v) => v.stringField(8, "emb.weight"))));
    expectBadInput(() => parseOnnx(bufferSource(w.finish())), /sparse initializer \("emb.weight"\)/);
  });
});

describe("parseOnnx external data", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "onnx-ext-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("locates tensors in the side file and reads them back", () => {
    const net = buildSegNet({ encoding: "external", externalFileName: "weights/segnet.bin" });
    fs.mkdirSync(path.join(dir, "weights"));
    fs.writeFileSync(path.join(dir, "weights/segnet.bin"), net.external!.bytes);
    const parsed = parseOnnx(bufferSource(net.bytes), { externalDataRoot: dir });
    expect(parsed.tensors.map((t) => t.name)).toEqual(net.description.tensors.map((t) => t.name));
    expect((parsed.metadata as unknown as OnnxMetadata).externalDataFiles).toEqual(["weights/segnet.bin"]);
    const open = openExternalData(dir);
    try {
      for (const [i, t] of parsed.tensors.entries()) {
        expect(t.location).toMatchObject({ kind: "raw", file: "weights/segnet.bin" });
        expect(decode(readTensorBytes(bufferSource(net.bytes), t, open), t.dtype)).toEqual(net.description.tensors[i].values);
      }
    } finally {
      open.close();
    }
  });

  it("refuses paths that leave the model's folder, symlinks included", () => {
    for (const location of ["../outside.bin", "/etc/passwd", "a/../../outside.bin", "C:\\weights.bin"]) {
      const net = buildSegNet({ encoding: "external", externalFileName: location });
      expectBadInput(() => parseOnnx(bufferSource(net.bytes), { externalDataRoot: dir }), /absolute external data location|leaves the model's folder/);
    }
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), "onnx-outside-"));
    try {
      const net = buildSegNet({ encoding: "external", externalFileName: "link.bin" });
      fs.writeFileSync(path.join(outside, "real.bin"), net.external!.bytes);
      fs.symlinkSync(path.join(outside, "real.bin"), path.join(dir, "link.bin"));
      expectBadInput(() => parseOnnx(bufferSource(net.bytes), { externalDataRoot: dir }), /resolves outside the model's folder/);
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it("refuses missing or short side files and models without a folder", () => {
    const net = buildSegNet({ encoding: "external", externalFileName: "w.bin" });
    expectBadInput(() => parseOnnx(bufferSource(net.bytes), { externalDataRoot: dir }), /"w.bin" does not exist/);
    expectBadInput(() => parseOnnx(bufferSource(net.bytes)), /model's folder is unknown/);
    fs.writeFileSync(path.join(dir, "w.bin"), net.external!.bytes.subarray(0, net.external!.bytes.length - 1));
    expectBadInput(() => parseOnnx(bufferSource(net.bytes), { externalDataRoot: dir }), /which has only \d+ bytes/);
  });
});

describe("parseOnnx reads headers, not data", () => {
  it("reads a small fraction of a model whose bytes are mostly weights", () => {
    // width 96: layer1 holds 96·96·3·3 floats = 331,776 bytes; the file is ~350 KB
    const bytes = buildSegNet({ width: 96 }).bytes;
    let read = 0;
    const inner = bufferSource(bytes);
    const counting = { size: inner.size, read: (offset: number, length: number) => ((read += length), inner.read(offset, length)) };
    const parsed = parseOnnx(counting);
    expect(parsed.tensors).toHaveLength(7);
    expect(bytes.length).toBeGreaterThan(340_000);
    expect(read).toBeLessThan(bytes.length / 10);
  });
});
