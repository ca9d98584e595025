import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DomainError, InvariantError } from "../../errors";
import { bufferSource, FileByteSource } from "../byteSource";
import { parseSafetensors } from "./parseSafetensors";
import { rewriteSafetensors, rewrittenSafetensorsSize, type SafetensorsTensorRef } from "./rewriteSafetensors";
import { assembleSafetensors, writeSafetensors, type TestTensor } from "./testing/writeSafetensors";

const net: TestTensor[] = [
  { name: "backbone.conv.weight", dtype: "F32", shape: [4, 3, 1, 1] },
  { name: "backbone.conv.bias", dtype: "F32", shape: [4] },
  { name: "backbone.bn.num_batches_tracked", dtype: "I64", shape: [] },
  { name: "head.weight", dtype: "F16", shape: [2, 4] },
  { name: "head.bias", dtype: "F16", shape: [2] },
];

function collect() {
  const chunks: Uint8Array[] = [];
  return {
    sink: { async write(chunk: Uint8Array) { chunks.push(Uint8Array.from(chunk)); } },
    bytes: () => Buffer.concat(chunks),
    count: () => chunks.length,
  };
}

/** Header text and data section, split independently of the code under test. */
function split(bytes: Uint8Array) {
  const n = Number(Buffer.from(bytes).readBigUInt64LE(0));
  return { n, header: JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString("utf8")), data: Buffer.from(bytes.subarray(8 + n)) };
}

describe("rewriteSafetensors", () => {
  const anchor = writeSafetensors(net, { metadata: { format: "pt", note: "anchor" } });

  it("reproduces the anchor byte for byte when nothing is replaced", async () => {
    const out = collect();
    const result = await rewriteSafetensors(bufferSource(anchor), { replace: [], getTensorBytes: async () => { throw new Error("not called"); } }, out.sink);
    expect(out.bytes().equals(Buffer.from(anchor))).toBe(true);
    expect(result.bytesWritten).toBe(anchor.byteLength);
  });

  it("swaps in replaced tensors in storage order and copies the rest", async () => {
    const { n, header } = split(anchor);
    // Expected file: the anchor with the two ranges overwritten, built with the header's own offsets.
    const bias = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    const head = new Uint8Array(16).fill(0xab);
    const expected = Buffer.from(anchor);
    expected.set(bias, 8 + n + header["backbone.conv.bias"].data_offsets[0]);
    expected.set(head, 8 + n + header["head.weight"].data_offsets[0]);

    for (const chunkBytes of [1, 5, 1 << 20]) {
      const seen: SafetensorsTensorRef[] = [];
      const out = collect();
      await rewriteSafetensors(bufferSource(anchor), {
        replace: ["head.weight", "backbone.conv.bias"],
        getTensorBytes: async (t) => { seen.push(t); return t.name === "head.weight" ? head : bias; },
        chunkBytes,
      }, out.sink);
      expect(out.bytes().equals(expected)).toBe(true);
      expect(seen.map((t) => t.name)).toEqual(["backbone.conv.bias", "head.weight"]);

      // The same bytes streamed in pieces of 3: the same file, without getTensorBytes.
      const streamed = collect();
      await rewriteSafetensors(bufferSource(anchor), {
        replace: ["head.weight", "backbone.conv.bias"],
        getTensorBytes: async () => { throw new Error("not called when pieces are given"); },
        getTensorChunks: async function* (t) {
          const bytes = t.name === "head.weight" ? head : bias;
          for (let at = 0; at < bytes.length; at += 3) yield bytes.slice(at, at + 3);
        },
        chunkBytes,
      }, streamed.sink);
      expect(streamed.bytes().equals(expected)).toBe(true);
      // head.weight: F16 2·4 = 8 elements, 16 bytes.
      expect(seen[1]).toMatchObject({ dtype: "F16", shape: [2, 4], elements: 8, location: { kind: "raw", length: 16 } });
    }
  });

  it("copies unchanged data in chunks of the requested size", async () => {
    const { n } = split(anchor);
    const out = collect();
    await rewriteSafetensors(bufferSource(anchor), { replace: [], getTensorBytes: async () => new Uint8Array(), chunkBytes: 10 }, out.sink);
    // One header write, then ceil(data / 10) chunks.
    expect(out.count()).toBe(1 + Math.ceil((anchor.byteLength - 8 - n) / 10));
  });

  it("adds merge metadata, keeping key order, other metadata and every tensor's bytes", async () => {
    const run = async () => {
      const out = collect();
      const result = await rewriteSafetensors(bufferSource(anchor), {
        replace: [],
        getTensorBytes: async () => new Uint8Array(),
        metadata: { note: "merged", "layermerge.method": "LAYERWISE" },
      }, out.sink);
      return { bytes: out.bytes(), result };
    };
    const first = await run();
    const second = await run();
    expect(first.bytes.equals(second.bytes)).toBe(true);

    const before = split(anchor);
    const after = split(first.bytes);
    expect(after.n % 8).toBe(0);
    expect(first.result.headerLength).toBe(after.n);
    expect(Object.keys(after.header)).toEqual(Object.keys(before.header));
    // "note" keeps its place and takes the new value; the new key goes last.
    expect(Object.entries(after.header.__metadata__)).toEqual([["format", "pt"], ["note", "merged"], ["layermerge.method", "LAYERWISE"]]);
    for (const name of net.map((t) => t.name)) expect(after.header[name]).toEqual(before.header[name]);
    expect(after.data.equals(before.data)).toBe(true);
    expect(rewrittenSafetensorsSize(bufferSource(anchor), { note: "merged", "layermerge.method": "LAYERWISE" })).toBe(first.bytes.byteLength);

    const reparsed = parseSafetensors(bufferSource(first.bytes));
    const original = parseSafetensors(bufferSource(anchor));
    expect(reparsed.tensors.map((t) => [t.name, t.layerIndex, t.location.kind === "raw" && t.location.offset - after.n]))
      .toEqual(original.tensors.map((t) => [t.name, t.layerIndex, t.location.kind === "raw" && t.location.offset - before.n]));
  });

  it("puts __metadata__ first when the anchor had none, and keeps unknown fields", async () => {
    const text = JSON.stringify({ "b.w": { dtype: "F32", shape: [1], data_offsets: [0, 4], extra: [1, { x: null }] } });
    const bare = assembleSafetensors(text, Uint8Array.from([1, 2, 3, 4]));
    const out = collect();
    await rewriteSafetensors(bufferSource(bare), { replace: [], getTensorBytes: async () => new Uint8Array(), metadata: { k: "v" } }, out.sink);
    const after = split(out.bytes());
    expect(Buffer.from(out.bytes().subarray(8, 8 + after.n)).toString("utf8").trimEnd())
      .toBe("{\"__metadata__\":{\"k\":\"v\"},\"b.w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":[1,{\"x\":null}]}}");
    expect([...after.data]).toEqual([1, 2, 3, 4]);
  });

  it("refuses to replace a tensor the anchor lacks, and wrong-sized replacements", async () => {
    const out = collect();
    await expect(rewriteSafetensors(bufferSource(anchor), { replace: ["neck.w"], getTensorBytes: async () => new Uint8Array() }, out.sink))
      .rejects.toThrow(DomainError);
    const tooLong = async function* () { yield new Uint8Array(8); yield new Uint8Array(9); };
    await expect(rewriteSafetensors(bufferSource(anchor), { replace: ["head.weight"], getTensorBytes: async () => new Uint8Array(16), getTensorChunks: tooLong }, collect().sink))
      .rejects.toThrow(/head\.weight.*more than 16 bytes/);
    await expect(rewriteSafetensors(bufferSource(anchor), { replace: ["head.bias"], getTensorBytes: async () => new Uint8Array(3) }, out.sink))
      .rejects.toThrow(InvariantError);
  });

  it("streams a file larger than the copy chunk from disk", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "layermerge-st-"));
    try {
      // 3·2^18 = 786,432 F32 elements = 3 MiB, copied in 1 MiB + 1 byte chunks around a replaced bias.
      const big = writeSafetensors([
        { name: "a.weight", dtype: "F32", shape: [3, 1 << 18] },
        { name: "a.bias", dtype: "F32", shape: [3] },
        { name: "b.weight", dtype: "F16", shape: [1 << 18] },
      ]);
      const file = path.join(dir, "anchor.safetensors");
      fs.writeFileSync(file, big);
      const { n, header } = split(big);
      const expected = Buffer.from(big);
      expected.fill(7, 8 + n + header["a.bias"].data_offsets[0], 8 + n + header["a.bias"].data_offsets[1]);
      const source = new FileByteSource(file);
      const out = collect();
      try {
        await rewriteSafetensors(source, { replace: ["a.bias"], getTensorBytes: async () => new Uint8Array(12).fill(7), chunkBytes: (1 << 20) + 1 }, out.sink);
      } finally {
        source.close();
      }
      expect(out.bytes().equals(expected)).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
