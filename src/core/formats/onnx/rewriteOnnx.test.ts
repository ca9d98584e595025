import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { TensorInfo } from "../../structure/types";
import { bufferSource } from "../byteSource";
import { openExternalData } from "./externalData";
import { parseOnnx, type OnnxMetadata } from "./parseOnnx";
import { planOnnxRewrite } from "./planOnnxRewrite";
import { readTensorBytes } from "./readTensorBytes";
import { buildSegNet, type SegNetOptions } from "./testing/buildSegNet";
import { encodeValues, type TestDType, writeOnnxModel } from "./testing/onnxModelWriter";
import { writeOnnxRewrite } from "./writeOnnxRewrite";

/**
 * Replacement values exactly representable in fp16 and fp32: multiples of 1/4 in [-8, 8).
 * Negative values set the fp16 sign bit (bits ≥ 0x8000), so int32_data varints grow from 2 to 3
 * bytes and every enclosing length prefix must be rewritten.
 */
const replacement = (t: TensorInfo) => Array.from({ length: t.elements }, (_, i) => ((i * 7 + t.name.length) % 64) / 4 - 8);

/** The same bytes in uneven pieces (5, 1, 7, 5, 1, 7, …), as a merge streams them. */
async function* inPieces(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  const sizes = [5, 1, 7];
  for (let at = 0, k = 0; at < bytes.length; at += sizes[k++ % 3]) yield bytes.slice(at, at + sizes[k % 3]);
}

async function rewrite(bytes: Uint8Array, replace: (t: TensorInfo) => boolean, metadata: Record<string, string>, root?: string, varintCacheBytes?: number, streamed: string[] | null = null) {
  const source = bufferSource(bytes);
  const open = root ? openExternalData(root) : undefined;
  try {
    const parsed = parseOnnx(source, { openExternal: open });
    const names = new Set(parsed.tensors.filter(replace).map((t) => t.name));
    const plan = planOnnxRewrite(source, parsed, names, metadata, { openExternal: open });
    const chunks: Uint8Array[] = [];
    const calls: string[] = [];
    const getTensorChunks = streamed ? (t: TensorInfo) => (streamed.push(t.name), inPieces(encodeValues(t.dtype as TestDType, replacement(t)))) : undefined;
    const written = await writeOnnxRewrite(plan, async (t) => (calls.push(t.name), encodeValues(t.dtype as TestDType, replacement(t))), { write: async (c) => void chunks.push(c.slice()) }, { varintCacheBytes, getTensorChunks });
    const out = Buffer.concat(chunks);
    expect(written).toBe(out.length);
    if (plan.sizeIsExact) expect(out.length).toBe(plan.outputSize);
    return { parsed, names, out: new Uint8Array(out), calls, plan };
  } finally {
    open?.close();
  }
}

function values(bytes: Uint8Array, t: TensorInfo, open?: (p: string) => ReturnType<typeof bufferSource>): Uint8Array {
  return readTensorBytes(bufferSource(bytes), t, open);
}

describe("ONNX rewrite", () => {
  const variants: Array<[string, SegNetOptions]> = [
    ["fp32 raw initializers", {}],
    ["fp16 raw initializers", { dtype: "F16" }],
    ["fp32 packed float_data", { encoding: "typed" }],
    ["fp32 unpacked float_data", { encoding: "typed-unpacked" }],
    ["fp16 packed int32_data (varints grow)", { dtype: "F16", encoding: "typed" }],
    ["fp16 unpacked int32_data in Constant nodes", { dtype: "F16", encoding: "typed-unpacked", constants: "constant" }],
    ["fp16 Constant nodes raw, unsorted", { dtype: "F16", constants: "constant", nodeOrder: "unsorted" }],
    ["quantized", { quantized: true, encoding: "typed" }],
  ];

  it.each(variants)("%s: replaced tensors read back, the others are untouched", async (_label, options) => {
    const net = buildSegNet(options);
    const { parsed, names, out, calls } = await rewrite(net.bytes, (t) => t.mergeable, { "layermerge.method": "LAYERWISE", "layermerge.parents": "a,b" });
    // each replaced tensor fetched once (varint encodings fit the cache here)
    expect(calls.slice().sort()).toEqual([...names].sort());
    const again = parseOnnx(bufferSource(out));
    expect(again.tensors.map((t) => [t.name, t.shape, t.dtype, t.layerIndex, t.mergeable])).toEqual(parsed.tensors.map((t) => [t.name, t.shape, t.dtype, t.layerIndex, t.mergeable]));
    for (const [i, t] of again.tensors.entries()) {
      const expected = names.has(t.name) ? encodeValues(t.dtype as TestDType, replacement(t)) : values(net.bytes, parsed.tensors[i]);
      expect(Buffer.from(values(out, t)).equals(Buffer.from(expected))).toBe(true);
    }
    const m = again.metadata as unknown as OnnxMetadata;
    expect(m.metadataProps).toEqual({ "layermerge.method": "LAYERWISE", "layermerge.parents": "a,b" });
    expect(m.nodeCount).toBe(net.description.nodeCount);

    // Streamed in pieces: the same file; pieces are asked for exactly the tensors whose data is
    // one contiguous run (raw_data, or one packed fixed-width field), whole bytes for the rest.
    const streamed: string[] = [];
    const inPiecesRun = await rewrite(net.bytes, (t) => t.mergeable, { "layermerge.method": "LAYERWISE", "layermerge.parents": "a,b" }, undefined, undefined, streamed);
    expect(Buffer.from(inPiecesRun.out).equals(Buffer.from(out))).toBe(true);
    const contiguous = parsed.tensors.filter((t) => {
      if (!names.has(t.name)) return false;
      const loc = t.location;
      if (loc.kind === "raw") return true;
      return loc.encoding !== "varint" && loc.ranges.length === 1 && loc.ranges[0].packed;
    });
    expect(streamed.slice().sort()).toEqual(contiguous.map((t) => t.name).sort());
    expect(inPiecesRun.calls.slice().sort()).toEqual([...names].filter((name) => !streamed.includes(name)).sort());
  });

  it("refuses streamed pieces that do not add up to the tensor's size", async () => {
    const net = buildSegNet();
    const source = bufferSource(net.bytes);
    const parsed = parseOnnx(source);
    const target = parsed.tensors.find((t) => t.mergeable && t.elements > 4)!;
    const plan = planOnnxRewrite(source, parsed, new Set([target.name]), {});
    const pieces = (extra: number) => async function* () {
      yield new Uint8Array(target.elements * 4 - 4);
      yield new Uint8Array(4 + extra);
    };
    const size = target.elements * 4;
    for (const extra of [-1, 1]) {
      const run = writeOnnxRewrite(plan, async () => new Uint8Array(size), { write: async () => {} }, { getTensorChunks: () => pieces(extra)() });
      await expect(run).rejects.toThrow(`replacement data for tensor "${target.name}" has ${extra > 0 ? `at least ${size + extra}` : size - 1} bytes; F32 [${target.shape.join(", ")}] needs ${size}`);
    }
  });

  it("writes same-length data in place: every byte outside the replaced ranges is the anchor's", async () => {
    const net = buildSegNet({ dtype: "F16" });
    const { parsed, names, out } = await rewrite(net.bytes, (t) => t.mergeable, { k: "v" });
    const replaced = new Uint8Array(net.bytes.length);
    for (const t of parsed.tensors) {
      if (!names.has(t.name) || t.location.kind !== "raw") continue;
      replaced.fill(1, t.location.offset, t.location.offset + t.location.length);
    }
    let differing = 0;
    for (let i = 0; i < net.bytes.length; i++) {
      if (replaced[i]) continue;
      if (out[i] !== net.bytes[i]) differing++;
    }
    expect(differing).toBe(0);
    // appended: field 14 (tag 0x72), entry of 6 bytes: 0a 01 'k' 12 01 'v'
    expect(Array.from(out.subarray(net.bytes.length))).toEqual([0x72, 0x06, 0x0a, 0x01, 0x6b, 0x12, 0x01, 0x76]);
  });

  it("with nothing replaced, appends metadata and replaces an existing key instead of duplicating it", async () => {
    const base = buildSegNet();
    const bytes = writeOnnxModel({ ...base.model, metadataProps: { keep: "1", "layermerge.method": "OLD" } }).bytes;
    const { out } = await rewrite(bytes, () => false, { "layermerge.method": "NEW" });
    const m = parseOnnx(bufferSource(out)).metadata as unknown as OnnxMetadata;
    expect(m.metadataProps).toEqual({ keep: "1", "layermerge.method": "NEW" });
    const raw = Buffer.from(out).toString("latin1");
    expect(raw.split("layermerge.method").length - 1).toBe(1);
  });

  it("is deterministic", async () => {
    const net = buildSegNet({ dtype: "F16", encoding: "typed" });
    const a = await rewrite(net.bytes, (t) => t.mergeable, { b: "2", a: "1" });
    const b = await rewrite(net.bytes, (t) => t.mergeable, { a: "1", b: "2" });
    expect(Buffer.from(a.out).equals(Buffer.from(b.out))).toBe(true);
    // without the cache, varint tensors are fetched twice (size, then write) and give the same bytes
    const c = await rewrite(net.bytes, (t) => t.mergeable, { a: "1", b: "2" }, undefined, 0);
    expect(c.calls.length).toBe(2 * c.names.size);
    expect(Buffer.from(c.out).equals(Buffer.from(a.out))).toBe(true);
  });

  it("inlines external data as raw_data, replaced or not", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "onnx-rw-"));
    try {
      const net = buildSegNet({ encoding: "external", externalFileName: "segnet.bin" });
      fs.writeFileSync(path.join(dir, "segnet.bin"), net.external!.bytes);
      const { parsed, names, out, plan } = await rewrite(net.bytes, (t) => t.name.startsWith("backbone.stem"), { k: "v" }, dir);
      expect(plan.sizeIsExact).toBe(true);
      const again = parseOnnx(bufferSource(out));
      expect((again.metadata as unknown as OnnxMetadata).externalDataFiles).toEqual([]);
      const open = openExternalData(dir);
      try {
        for (const [i, t] of again.tensors.entries()) {
          expect(t.location).toMatchObject({ kind: "raw" });
          expect((t.location as { file?: string }).file).toBeUndefined();
          const expected = names.has(t.name) ? encodeValues(t.dtype as TestDType, replacement(t)) : values(net.bytes, parsed.tensors[i], open);
          expect(Buffer.from(values(out, t)).equals(Buffer.from(expected))).toBe(true);
        }
      } finally {
        open.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rejects replacement data of the wrong size, naming the tensor", async () => {
    const net = buildSegNet();
    const source = bufferSource(net.bytes);
    const parsed = parseOnnx(source);
    const plan = planOnnxRewrite(source, parsed, new Set(["backbone.stem.conv.bias"]), {});
    await expect(writeOnnxRewrite(plan, async () => new Uint8Array(3), { write: async () => {} })).rejects.toThrow(/tensor "backbone.stem.conv.bias" has 3 bytes; F32 \[8\] needs 32/);
    expect(() => planOnnxRewrite(source, parsed, new Set(["nope"]), {})).toThrow(/cannot replace tensor "nope"/);
  });
});
