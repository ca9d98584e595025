import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { DomainError } from "../../errors";
import { bufferSource } from "../byteSource";
import { parseSafetensors } from "./parseSafetensors";
import { assembleSafetensors, officialOrder, writeSafetensors, type TestTensor } from "./testing/writeSafetensors";

const fixtures = path.join(__dirname, "testing", "fixtures");

function parse(bytes: Uint8Array, layerOrder?: string[]) {
  return parseSafetensors(bufferSource(bytes), layerOrder === undefined ? {} : { layerOrder });
}

function expectBad(bytes: Uint8Array, message: RegExp, layerOrder?: string[]): DomainError {
  let caught: unknown;
  try {
    parse(bytes, layerOrder);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(DomainError);
  const error = caught as DomainError;
  expect(error.code).toBe("BAD_USER_INPUT");
  expect(error.message).toMatch(message);
  return error;
}

/** Header length as stored, read independently of the reader under test. */
function headerLengthOf(bytes: Uint8Array): number {
  return Number(Buffer.from(bytes).readBigUInt64LE(0));
}

/** A small segmentation net, in forward order. */
function forwardNet(): TestTensor[] {
  const t: TestTensor[] = [
    { name: "backbone.stem.conv.weight", dtype: "F32", shape: [8, 3, 3, 3] },
    { name: "backbone.stem.conv.bias", dtype: "F32", shape: [8] },
  ];
  for (const b of [0, 1, 2, 10]) {
    t.push({ name: `backbone.blocks.${b}.conv.weight`, dtype: "F32", shape: [8, 8, 1, 1] });
    t.push({ name: `backbone.blocks.${b}.bn.weight`, dtype: "F32", shape: [8] });
    t.push({ name: `backbone.blocks.${b}.bn.num_batches_tracked`, dtype: "I64", shape: [] });
  }
  t.push({ name: "decode_head.conv_seg.weight", dtype: "BF16", shape: [19, 8, 1, 1] });
  t.push({ name: "decode_head.conv_seg.bias", dtype: "BF16", shape: [19] });
  return t;
}

describe("parseSafetensors on a file laid out by the reference writer (python fixture)", () => {
  const bytes = fs.readFileSync(path.join(fixtures, "official_sorted.safetensors"));
  const expected = JSON.parse(fs.readFileSync(path.join(fixtures, "official_sorted.expected.json"), "utf8"));
  const model = parse(bytes);

  it("detects the name-sorted layout and orders modules numeric-aware", () => {
    expect(model.format).toBe("safetensors");
    expect(model.layerOrderSource).toBe("NAME_SORTED");
    expect(model.layerCount).toBe(expected.modules.length);
    expect(model.metadata.headerLength).toBe(expected.headerLength);
    expect(model.metadata.__metadata__).toEqual(expected.metadata);
  });

  it("reports every tensor's dtype, shape, element count, location and layer as numpy did", () => {
    expect(model.tensors.map((t) => t.name).sort()).toEqual(Object.keys(expected.tensors).sort());
    for (const t of model.tensors) {
      const e = expected.tensors[t.name];
      expect({ name: t.name, dtype: t.dtype, shape: t.shape, elements: t.elements, layerIndex: t.layerIndex })
        .toEqual({ name: t.name, dtype: e.dtype, shape: e.shape, elements: e.elements, layerIndex: e.layerIndex });
      expect(t.location).toEqual({ kind: "raw", offset: e.offset, length: e.length });
      const data = bytes.subarray(e.offset, e.offset + e.length);
      expect(createHash("sha256").update(data).digest("hex")).toBe(e.sha256);
      expect(t.mergeable).toBe(["F32", "F16", "BF16", "F64"].includes(e.dtype));
      expect(t.group).toBe(t.name.split(".")[0]);
    }
  });

  it("lists tensors by layer, then storage position", () => {
    const layers = model.tensors.map((t) => t.layerIndex);
    expect(layers).toEqual([...layers].sort((a, b) => a - b));
    // Within layer "backbone.blocks.0.bn", the reference writer stored the I64 counter first
    // (widest dtype block), then the F32 tensors by name.
    expect(model.tensors.filter((t) => t.layerIndex === 0).map((t) => t.name)).toEqual([
      "backbone.blocks.0.bn.num_batches_tracked",
      "backbone.blocks.0.bn.bias",
      "backbone.blocks.0.bn.running_mean",
      "backbone.blocks.0.bn.running_var",
      "backbone.blocks.0.bn.weight",
    ]);
  });

  it("counts parameter elements as numpy did", () => {
    // By hand: stem 8·3·3·3 + 8 = 224; each block 8·8 + 4·8 = 96, four blocks 384 → backbone 608;
    // head 19·8 + 19 = 171; total 779 (the I64 counters and U8 class ids are not parameters).
    const floating = model.tensors.filter((t) => t.mergeable).reduce((s, t) => s + t.elements, 0);
    expect(floating).toBe(779);
    expect(expected.parameterCount).toBe(779);
  });
});

describe("parseSafetensors layer order", () => {
  it("keeps forward storage order when the file is not name-sorted", () => {
    const model = parse(writeSafetensors(forwardNet()));
    expect(model.layerOrderSource).toBe("STORAGE_ORDER");
    // Modules in the order their first tensor is stored: stem.conv, then per block conv, bn, then head.
    expect(model.layerCount).toBe(1 + 4 * 2 + 1);
    const layerOf = (name: string) => model.tensors.find((t) => t.name === name)!.layerIndex;
    expect(layerOf("backbone.stem.conv.weight")).toBe(0);
    expect(layerOf("backbone.stem.conv.bias")).toBe(0);
    expect(layerOf("backbone.blocks.0.conv.weight")).toBe(1);
    expect(layerOf("backbone.blocks.0.bn.num_batches_tracked")).toBe(2);
    expect(layerOf("backbone.blocks.2.bn.weight")).toBe(6);
    expect(layerOf("backbone.blocks.10.conv.weight")).toBe(7);
    expect(layerOf("decode_head.conv_seg.bias")).toBe(9);
    expect(model.tensors.map((t) => t.name)).toEqual(forwardNet().map((t) => t.name));
  });

  it("falls back to numeric-aware module order for an officially ordered file", () => {
    const model = parse(writeSafetensors(officialOrder(forwardNet())));
    expect(model.layerOrderSource).toBe("NAME_SORTED");
    const modules: string[] = [];
    for (const t of model.tensors) {
      const m = t.name.slice(0, t.name.lastIndexOf("."));
      if (modules[t.layerIndex] === undefined) modules[t.layerIndex] = m;
      expect(modules[t.layerIndex]).toBe(m);
    }
    expect(modules).toEqual([
      "backbone.blocks.0.bn", "backbone.blocks.0.conv",
      "backbone.blocks.1.bn", "backbone.blocks.1.conv",
      "backbone.blocks.2.bn", "backbone.blocks.2.conv",
      "backbone.blocks.10.bn", "backbone.blocks.10.conv",
      "backbone.stem.conv", "decode_head.conv_seg",
    ]);
  });

  it("recognises name order within contiguous dtype blocks", () => {
    const model = parse(writeSafetensors([
      { name: "a.x", dtype: "F32", shape: [2] },
      { name: "c.x", dtype: "F32", shape: [2] },
      { name: "b.x", dtype: "F16", shape: [2] },
    ]));
    expect(model.layerOrderSource).toBe("NAME_SORTED");
    expect(model.tensors.map((t) => [t.name, t.layerIndex])).toEqual([["a.x", 0], ["b.x", 1], ["c.x", 2]]);
  });

  it("does not take a dtype that comes back after another for a sorted block", () => {
    const model = parse(writeSafetensors([
      { name: "a.x", dtype: "F32", shape: [2] },
      { name: "c.x", dtype: "F16", shape: [2] },
      { name: "b.x", dtype: "F32", shape: [2] },
    ]));
    expect(model.layerOrderSource).toBe("STORAGE_ORDER");
    expect(model.tensors.map((t) => [t.name, t.layerIndex])).toEqual([["a.x", 0], ["c.x", 1], ["b.x", 2]]);
  });

  it("orders by storage offset, not by header key order", () => {
    // Header lists b first, but a's bytes come first.
    const header = JSON.stringify({
      "b.w": { dtype: "F32", shape: [1], data_offsets: [4, 8] },
      "z.w": { dtype: "F32", shape: [1], data_offsets: [0, 4] },
    });
    const model = parse(assembleSafetensors(header, new Uint8Array(8)));
    expect(model.layerOrderSource).toBe("STORAGE_ORDER");
    expect(model.tensors.map((t) => t.name)).toEqual(["z.w", "b.w"]);
  });

  it("puts listed prefixes first, most specific match winning, the rest in fallback order", () => {
    const model = parse(writeSafetensors(forwardNet()), ["decode_head", "backbone.blocks.10", "backbone"]);
    expect(model.layerOrderSource).toBe("GIVEN");
    const layerOf = (name: string) => model.tensors.find((t) => t.name === name)!.layerIndex;
    expect(layerOf("decode_head.conv_seg.weight")).toBe(0);
    expect(layerOf("backbone.blocks.10.conv.weight")).toBe(1);
    expect(layerOf("backbone.blocks.10.bn.weight")).toBe(2);
    expect(layerOf("backbone.stem.conv.weight")).toBe(3);
    expect(layerOf("backbone.blocks.2.bn.weight")).toBe(9);
    expect(model.layerCount).toBe(10);
  });

  it("places unlisted modules after the listed ones", () => {
    const model = parse(writeSafetensors(forwardNet()), ["backbone.blocks.1"]);
    const layerOf = (name: string) => model.tensors.find((t) => t.name === name)!.layerIndex;
    expect(layerOf("backbone.blocks.1.conv.weight")).toBe(0);
    expect(layerOf("backbone.blocks.1.bn.weight")).toBe(1);
    expect(layerOf("backbone.stem.conv.bias")).toBe(2);
    expect(layerOf("decode_head.conv_seg.bias")).toBe(9);
  });

  it("refuses unknown and duplicate prefixes in layerOrder", () => {
    const bytes = writeSafetensors(forwardNet());
    const unknown = expectBad(bytes, /a module prefix matching no tensor of this model: "neck"$/, ["backbone", "neck"]);
    expect(unknown.field).toBe("layerOrder");
    // "backbone.block" is not a dotted prefix of "backbone.blocks.0".
    expectBad(bytes, /"backbone.block"/, ["backbone.block"]);
    const dup = expectBad(bytes, /"backbone" twice/, ["backbone", "decode_head", "backbone"]);
    expect(dup.field).toBe("layerOrder.2");
  });
});

describe("parseSafetensors tensor details", () => {
  it("computes absolute offsets of consecutive tensors", () => {
    const bytes = writeSafetensors([
      { name: "a.weight", dtype: "F32", shape: [2, 3] },
      { name: "a.bias", dtype: "F16", shape: [2] },
    ]);
    const n = headerLengthOf(bytes);
    const model = parse(bytes);
    // a.weight: 2·3·4 = 24 bytes at data offset 0; a.bias right after it, 2·2 = 4 bytes.
    expect(model.tensors.map((t) => t.location)).toEqual([
      { kind: "raw", offset: 8 + n, length: 24 },
      { kind: "raw", offset: 8 + n + 24, length: 4 },
    ]);
    expect(model.layerCount).toBe(1);
  });

  it("handles scalars, empty tensors, root-level names and non-mergeable dtypes", () => {
    const model = parse(writeSafetensors([
      { name: "logit_scale", dtype: "F64", shape: [] },
      { name: "empty.w", dtype: "F32", shape: [0, 4] },
      { name: "q.weight", dtype: "I8", shape: [4, 4] },
      { name: "q.mask", dtype: "BOOL", shape: [3] },
      { name: "q.fp8", dtype: "F8_E4M3", shape: [2] },
    ]));
    const byName = new Map(model.tensors.map((t) => [t.name, t]));
    expect(byName.get("logit_scale")).toMatchObject({ elements: 1, mergeable: true, group: "logit_scale", layerIndex: 0 });
    expect(byName.get("empty.w")).toMatchObject({ elements: 0, mergeable: true, group: "empty" });
    expect(byName.get("empty.w")!.location).toMatchObject({ length: 0 });
    expect(byName.get("q.weight")).toMatchObject({ elements: 16, mergeable: false, dtype: "I8" });
    expect(byName.get("q.mask")).toMatchObject({ elements: 3, mergeable: false, dtype: "BOOL" });
    expect(byName.get("q.fp8")).toMatchObject({ elements: 2, mergeable: false, dtype: "F8_E4M3" });
    expect(model.layerCount).toBe(3);
  });

  it("keeps tensors whose names look like integers in storage order", () => {
    const model = parse(writeSafetensors([
      { name: "w", dtype: "F32", shape: [1] },
      { name: "0", dtype: "F32", shape: [1] },
    ]));
    expect(model.layerOrderSource).toBe("STORAGE_ORDER");
    expect(model.tensors.map((t) => t.name)).toEqual(["w", "0"]);
  });
});

describe("parseSafetensors refuses corrupt files with a message naming the problem", () => {
  const header = (entries: Record<string, unknown>) => JSON.stringify(entries);

  it("refuses files too short for the length field", () => {
    expectBad(new Uint8Array(0), /shorter than the 8-byte/);
    expectBad(new Uint8Array(7), /shorter than the 8-byte/);
  });

  it("refuses absurd or truncated header lengths", () => {
    const big = new Uint8Array(16);
    new DataView(big.buffer).setBigUint64(0, 100_000_001n, true);
    expectBad(big, /above the 100000000-byte limit/);
    new DataView(big.buffer).setBigUint64(0, 2n ** 63n, true);
    expectBad(big, /above the 100000000-byte limit/);
    new DataView(big.buffer).setBigUint64(0, 9n, true);
    expectBad(big, /says 9 bytes but only 8 follow/);
  });

  it("refuses headers that are not a JSON object", () => {
    expectBad(assembleSafetensors("[1,2]", new Uint8Array()), /does not start with '\{'/);
    expectBad(assembleSafetensors("{\"a\":", new Uint8Array()), /corrupt safetensors header/);
    expectBad(assembleSafetensors("{} x", new Uint8Array(), false), /file bytes \[11, 12\) follow the header's JSON object/);
    const bad = assembleSafetensors("{\"\xff\":1}", new Uint8Array());
    bad[10] = 0xff;
    expectBad(bad, /not valid UTF-8/);
  });

  it("refuses duplicate keys, which could hide a tensor", () => {
    const text = "{\"a.w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a.w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
    expectBad(assembleSafetensors(text, new Uint8Array(8)), /duplicate key "a.w"/);
  });

  it("names the tensor with an unknown dtype", () => {
    expectBad(assembleSafetensors(header({ "head.w": { dtype: "F4", shape: [2], data_offsets: [0, 1] } }), new Uint8Array(1)),
      /unsupported safetensors dtype "F4" for tensor "head.w"/);
  });

  it("names the tensor with a bad shape", () => {
    expectBad(assembleSafetensors(header({ "head.w": { dtype: "F32", shape: [2, -1], data_offsets: [0, 8] } }), new Uint8Array(8)),
      /tensor "head.w" has shape \[2,-1\]/);
    expectBad(assembleSafetensors(header({ "head.w": { dtype: "F32", shape: [1.5], data_offsets: [0, 8] } }), new Uint8Array(8)),
      /tensor "head.w" has shape/);
    expectBad(assembleSafetensors(header({ "head.w": { dtype: "F32", data_offsets: [0, 8] } }), new Uint8Array(8)),
      /tensor "head.w" has no shape/);
  });

  it("names the tensor whose bytes disagree with its shape", () => {
    // 2·3 F32 elements need 24 bytes; the offsets span 20.
    expectBad(assembleSafetensors(header({ "head.w": { dtype: "F32", shape: [2, 3], data_offsets: [0, 20] } }), new Uint8Array(24)),
      /tensor "head.w" \(F32 \[2,3\]\) needs 24 bytes but data_offsets \[0, 20\] span 20/);
    // Absurd dims: 2^40 · 2^40 elements cannot fit any file.
    expectBad(assembleSafetensors(header({ "head.w": { dtype: "F32", shape: [2 ** 40, 2 ** 40], data_offsets: [0, 4] } }), new Uint8Array(4)),
      /tensor "head.w"/);
  });

  it("names the tensor whose data leaves the file", () => {
    expectBad(assembleSafetensors(header({ "head.w": { dtype: "F32", shape: [4], data_offsets: [0, 16] } }), new Uint8Array(12)),
      /tensor "head.w" has data_offsets \[0, 16\] beyond the 12-byte data section/);
    expectBad(assembleSafetensors(header({ "head.w": { dtype: "F32", shape: [0], data_offsets: [8, 4] } }), new Uint8Array(12)),
      /tensor "head.w" has data_offsets \[8, 4\] that end before they begin/);
    expectBad(assembleSafetensors(header({ "head.w": { dtype: "F32", shape: [1], data_offsets: [0] } }), new Uint8Array(4)),
      /tensor "head.w" needs data_offsets/);
  });

  it("names both tensors and the shared byte range when their bytes overlap", () => {
    const text = header({
      "a.w": { dtype: "F32", shape: [4], data_offsets: [0, 16] },
      "b.w": { dtype: "F32", shape: [2], data_offsets: [16, 24] },
      "c.w": { dtype: "F32", shape: [1], data_offsets: [12, 16] },
    });
    const start = 8 + Buffer.byteLength(text) + ((8 - (Buffer.byteLength(text) % 8)) % 8);
    const error = expectBad(assembleSafetensors(text, new Uint8Array(24)),
      /data bytes \[12, 16\) \(file bytes \[(\d+), (\d+)\)\) belong to both tensor "a.w" \[0, 16\) and tensor "c.w" \[12, 16\)/);
    expect(error.details).toEqual({ byteRange: [start + 12, start + 16], tensors: ["a.w", "c.w"] });
    // A tensor inside a longer one.
    expectBad(assembleSafetensors(header({
      "a.w": { dtype: "F32", shape: [8], data_offsets: [0, 32] },
      "b.w": { dtype: "F32", shape: [1], data_offsets: [4, 8] },
    }), new Uint8Array(32)), /data bytes \[4, 8\) .* belong to both tensor "a.w" \[0, 32\) and tensor "b.w" \[4, 8\)/);
  });

  it("refuses an empty tensor inside another tensor; at the running end it is valid", () => {
    expectBad(assembleSafetensors(header({
      "a.w": { dtype: "F32", shape: [2], data_offsets: [0, 8] },
      "a.e": { dtype: "F32", shape: [0], data_offsets: [4, 4] },
    }), new Uint8Array(8)), /empty tensor "a.e" sits at data offset 4 .* inside tensor "a.w" \[0, 8\)/);
    for (const at of [0, 8]) {
      const model = parse(assembleSafetensors(header({
        "a.w": { dtype: "F32", shape: [2], data_offsets: [0, 8] },
        "a.e": { dtype: "F32", shape: [0], data_offsets: [at, at] },
      }), new Uint8Array(8)));
      expect(model.tensors.map((t) => [t.name, t.location])).toEqual(expect.arrayContaining([["a.e", expect.objectContaining({ length: 0 })]]));
      expect(model.tensors).toHaveLength(2);
    }
  });

  it("refuses data bytes that belong to no tensor: a gap, a hole at the start, bytes after the last tensor", () => {
    const gap = writeSafetensors([
      { name: "a.weight", dtype: "F32", shape: [2, 3] },
      { name: "a.bias", dtype: "F16", shape: [2] },
    ], { gapBytes: 4 });
    const n = headerLengthOf(gap);
    const error = expectBad(gap, /data bytes \[24, 28\) \(file bytes \[(\d+), (\d+)\)\) after tensor "a.weight" belong to no tensor \(the next, "a.bias", begins at 28\)/);
    expect(error.details).toEqual({ byteRange: [8 + n + 24, 8 + n + 28], tensors: ["a.weight", "a.bias"] });

    expectBad(assembleSafetensors(header({ "a.w": { dtype: "F32", shape: [1], data_offsets: [4, 8] } }), new Uint8Array(8)),
      /data bytes \[0, 4\) .* at the start of the data section belong to no tensor/);

    const good = writeSafetensors([{ name: "a.w", dtype: "F32", shape: [2] }]);
    const appended = Buffer.concat([good, Buffer.alloc(1000, 7)]);
    const m = headerLengthOf(good);
    const tail = expectBad(appended, /data bytes \[8, 1008\) .* after the last tensor, "a.w", belong to no tensor/);
    expect(tail.details).toEqual({ byteRange: [8 + m + 8, 8 + m + 1008], tensors: ["a.w"] });
    // A header without tensors must have no data at all.
    expectBad(assembleSafetensors("{}", new Uint8Array(3)), /data bytes \[0, 3\) .* with no tensor in the header belong to no tensor/);
    expect(parse(assembleSafetensors("{}", new Uint8Array())).tensors).toEqual([]);
  });

  it("refuses 8 junk bytes spliced into the data section, which would shift every later tensor", () => {
    // The case that once merged garbage: a tensor of 0..15 with junk spliced before it.
    const values = new Uint8Array(new Float32Array(Array.from({ length: 16 }, (_, i) => i)).buffer);
    const good = writeSafetensors([
      { name: "a.w", dtype: "F32", shape: [4] },
      { name: "b.w", dtype: "F32", shape: [16], data: values },
    ]);
    const n = headerLengthOf(good);
    const at = 8 + n + 16; // where b.w's bytes begin
    const spliced = Buffer.concat([good.subarray(0, at), Buffer.alloc(8, 0x5a), good.subarray(at)]);
    expectBad(spliced, /data bytes \[80, 88\) .* after the last tensor, "b.w", belong to no tensor/);
  });

  it("refuses padding after the header's object other than spaces", () => {
    for (const pad of ["\n", "\t", "\r", "\u0000"]) {
      expectBad(assembleSafetensors(`{}${pad}  `, new Uint8Array(), false), /only spaces \(0x20\) may pad it/);
    }
    expect(parse(assembleSafetensors("{}      ", new Uint8Array(), false)).tensors).toEqual([]);
  });

  it("refuses dims and offsets not written as plain integers, as the reference reader does", () => {
    for (const [shape, offsets] of [["[2]", "[0,8.0]"], ["[2]", "[0,8e0]"], ["[2.0]", "[0,8]"], ["[2]", "[-0,8]"]]) {
      const text = `{"a.w":{"dtype":"F32","shape":${shape},"data_offsets":${offsets}}}`;
      expectBad(assembleSafetensors(text, new Uint8Array(8)), /tensor "a.w" (has shape|needs data_offsets)/);
    }
  });

  it("refuses an unpaired surrogate escape in a name", () => {
    expectBad(assembleSafetensors("{\"a\\ud800\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", new Uint8Array()), /unpaired UTF-16 surrogate/);
  });

  it("refuses metadata that is not string to string", () => {
    expectBad(assembleSafetensors(header({ __metadata__: { epoch: 3 } }), new Uint8Array()), /"__metadata__" entry "epoch" must be a string, found number 3/);
    expectBad(assembleSafetensors(header({ __metadata__: ["x"] }), new Uint8Array()), /"__metadata__" must be an object/);
  });
});
