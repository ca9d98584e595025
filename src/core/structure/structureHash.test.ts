import { createHash } from "node:crypto";
import { groupHashes, structureHash, structureKey, type HashedTensor } from "./structureHash";
import { summarizeStructure } from "./summarizeStructure";
import { shapeKey, tensorSignature } from "./tensorSignature";

const tiny: HashedTensor[] = [
  { name: "backbone.conv.weight", shape: [8, 3, 3, 3], dtype: "F32", mergeable: true, layerIndex: 0, group: "backbone" },
  { name: "backbone.conv.bias", shape: [8], dtype: "F32", mergeable: true, layerIndex: 0, group: "backbone" },
  { name: "head.w", shape: [2], dtype: "F16", mergeable: true, layerIndex: 1, group: "head" },
];

describe("structureHash", () => {
  it("matches the golden hashes of the documented encoding (testing/structure_hash_golden.py)", () => {
    expect(structureHash(tiny)).toBe("4cade990b478282889059cab7d80eeb5d8e3ce451d0a8f6dad291f2fc0bf8998");
    expect(structureHash(tiny, 2)).toBe("4cade990b478282889059cab7d80eeb5d8e3ce451d0a8f6dad291f2fc0bf8998");
    expect(groupHashes(tiny)[0]).toEqual({ prefix: "backbone", hash: "253a75261c3a258fd5519e4c4a093bef74e386bb827acdf722e7501a6bd1b6aa" });
  });

  it("is equal for equal structures and ignores the order of tensors within a layer", () => {
    const copy = tiny.map((t) => ({ ...t, shape: [...t.shape] }));
    expect(structureHash(copy)).toBe(structureHash(tiny));
    expect(structureHash([copy[1]!, copy[0]!, copy[2]!])).toBe(structureHash(tiny));
  });

  it("changes with any field of any tensor, and with L", () => {
    const base = structureHash(tiny);
    const variants: Array<Partial<HashedTensor>> = [
      { name: "head.W" }, { shape: [2, 1] }, { shape: [] }, { dtype: "BF16" }, { mergeable: false }, { layerIndex: 2 }, { group: "heads" },
    ];
    const seen = new Set([base]);
    for (const change of variants) {
      const h = structureHash([tiny[0]!, tiny[1]!, { ...tiny[2]!, ...change }]);
      expect(seen.has(h)).toBe(false);
      seen.add(h);
    }
    expect(structureHash(tiny, 3)).not.toBe(base);
    expect(structureHash(tiny.slice(0, 2))).not.toBe(base);
  });

  it("gives a group the same hash under a different head or at other layer indices", () => {
    const other: HashedTensor[] = [
      ...tiny.slice(0, 2).map((t) => ({ ...t, layerIndex: t.layerIndex + 5 })),
      { name: "panoptic.w", shape: [4], dtype: "F32", mergeable: true, layerIndex: 0, group: "panoptic" },
    ];
    const backbone = (ts: HashedTensor[]) => groupHashes(ts).find((g) => g.prefix === "backbone")!.hash;
    expect(backbone(other)).toBe(backbone(tiny));
    expect(groupHashes(other).map((g) => g.prefix)).toEqual(["backbone", "panoptic"]);
  });
});

describe("tensorSignature and shapeKey", () => {
  it("encode unambiguously", () => {
    expect(tensorSignature({ name: "a\",[1]", shape: [1], dtype: "F32" })).toBe("[\"a\\\",[1]\",[1],\"F32\"]");
    expect(shapeKey([])).not.toBe(shapeKey([0]));
    expect(shapeKey([8, 3, 3, 3])).toBe("8,3,3,3");
  });
});

describe("summarizeStructure", () => {
  it("counts tensors, parameters by dtype and group, and layers", () => {
    const summary = summarizeStructure({
      tensors: [
        { name: "backbone.conv.weight", shape: [8, 3, 3, 3], dtype: "F32", mergeable: true, layerIndex: 0, group: "backbone", elements: 216 },
        { name: "backbone.conv.bias", shape: [8], dtype: "F32", mergeable: true, layerIndex: 0, group: "backbone", elements: 8 },
        { name: "backbone.bn.weight", shape: [8], dtype: "F32", mergeable: true, layerIndex: 1, group: "backbone", elements: 8 },
        { name: "backbone.bn.num_batches_tracked", shape: [], dtype: "I64", mergeable: false, layerIndex: 1, group: "backbone", elements: 1 },
        { name: "decode_head.conv_seg.weight", shape: [19, 8, 1, 1], dtype: "F16", mergeable: true, layerIndex: 2, group: "decode_head", elements: 152 },
        { name: "decode_head.conv_seg.bias", shape: [19], dtype: "F16", mergeable: true, layerIndex: 2, group: "decode_head", elements: 19 },
        { name: "decode_head.q", shape: [19, 8], dtype: "I8", mergeable: false, layerIndex: 3, group: "decode_head", elements: 152 },
      ],
    });
    // Parameters: 216 + 8 + 8 = 232 in the backbone (F32), 152 + 19 = 171 in the head (F16); 403 in all.
    // Mergeable: the five floating tensors; the I64 counter and the I8 weight are listed only.
    expect(summary).toMatchObject({ tensorCount: 7, mergeableTensorCount: 5, parameterCount: 403, layerCount: 4 });
    expect(summary.dtypes).toEqual([
      { dtype: "F32", tensorCount: 3, elementCount: 232, parameterCount: 232 },
      { dtype: "I64", tensorCount: 1, elementCount: 1, parameterCount: 0 },
      { dtype: "F16", tensorCount: 2, elementCount: 171, parameterCount: 171 },
      { dtype: "I8", tensorCount: 1, elementCount: 152, parameterCount: 0 },
    ]);
    expect(summary.groups.map(({ hash, ...g }) => g)).toEqual([
      { prefix: "backbone", tensorCount: 4, parameterCount: 232 },
      { prefix: "decode_head", tensorCount: 3, parameterCount: 171 },
    ]);
    expect(summary.groups[0]!.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(summary.hash).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("structureKey", () => {
  const parsed = (keys?: string[]) => ({
    format: "onnx" as const,
    layerCount: 2,
    layerOrderSource: "GRAPH" as const,
    tensors: tiny.map((t, i) => ({ ...t, elements: 1, location: { kind: "raw" as const, offset: 0, length: 0 }, ...(keys ? { positionKey: keys[i] } : {}) })),
  });

  it("is the key it always was for tensors without positional keys", () => {
    const legacy = createHash("sha256").update(JSON.stringify([structureHash(tiny, 2), "onnx", "GRAPH"])).digest("hex");
    expect(structureKey(parsed())).toBe(legacy);
  });

  it("tells apart the same names wired differently, and ignores tensor order", () => {
    const a = structureKey(parsed(["k0", "k1", "k2"]));
    expect(a).not.toBe(structureKey(parsed()));
    expect(structureKey(parsed(["k0", "k1", "other"]))).not.toBe(a);
    const reordered = parsed(["k0", "k1", "k2"]);
    reordered.tensors.reverse();
    expect(structureKey(reordered)).toBe(a);
  });
});
