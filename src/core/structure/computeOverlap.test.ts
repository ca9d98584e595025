import { compareStructures } from "./compareStructures";
import { computeOverlap, type TensorMismatch } from "./computeOverlap";
import { overlapIndex, type OverlapTensor, type StructureLike } from "./overlapIndex";
import type { DType } from "./types";

const FLOAT = new Set(["F32", "F16", "BF16", "F64"]);

/** `elements` is given by hand at every call site, never computed from the shape here. */
function t(name: string, shape: number[], elements: number, dtype: DType = "F32"): OverlapTensor {
  return { name, shape, dtype, mergeable: FLOAT.has(dtype), group: name.split(".")[0]!, elements };
}

// Backbone: 8·3·3·3 = 216, 8, 8, counter, 16·8·3·3 = 1152 → 1384 parameter elements.
const backbone = () => [
  t("backbone.stem.weight", [8, 3, 3, 3], 216),
  t("backbone.stem.bias", [8], 8),
  t("backbone.bn.weight", [8], 8),
  t("backbone.bn.num_batches_tracked", [], 1, "I64"),
  t("backbone.layer1.weight", [16, 8, 3, 3], 1152),
];
// Semantic head, 19 classes: 19·16 = 304 + 19 = 323. A = 1384 + 323 = 1707.
const semanticHead = (dtype: DType = "F32") => [
  t("decode_head.conv_seg.weight", [19, 16, 1, 1], 304, dtype),
  t("decode_head.conv_seg.bias", [19], 19, dtype),
];
const A: StructureLike = { tensors: [...backbone(), ...semanticHead()] };
const A16: StructureLike = { tensors: [...backbone(), ...semanticHead("F16")] };
// Panoptic model on the same backbone: 8 classes (8·16 = 128, 8) + offsets 2·16 = 32 + centers 16.
// B = 1384 + 128 + 8 + 32 + 16 = 1568.
const B: StructureLike = {
  tensors: [
    ...backbone(),
    t("decode_head.conv_seg.weight", [8, 16, 1, 1], 128),
    t("decode_head.conv_seg.bias", [8], 8),
    t("panoptic_head.offset.weight", [2, 16, 1, 1], 32),
    t("panoptic_head.center.weight", [1, 16, 1, 1], 16),
  ],
};
// A wider, partly quantized backbone with A's head: stem 224 + layer1 32·8·3·3 = 2304 + extra 4 + head 323 = 2855.
const C: StructureLike = {
  tensors: [
    t("backbone.stem.weight", [8, 3, 3, 3], 216),
    t("backbone.stem.bias", [8], 8),
    t("backbone.bn.weight", [8], 8, "I8"),
    t("backbone.bn.num_batches_tracked", [], 1, "I64"),
    t("backbone.layer1.weight", [32, 8, 3, 3], 2304),
    t("backbone.extra.weight", [4], 4),
    ...semanticHead(),
  ],
};
const D: StructureLike = { tensors: [t("encoder.patch_embed.weight", [4, 3, 4, 4], 192), t("head.w", [2], 2)] };

describe("computeOverlap", () => {
  it("shares everything with the same architecture in another floating dtype, listing the dtype mismatches", () => {
    const o = computeOverlap(A, A16);
    expect(o).toMatchObject({ sharedTensorCount: 6, sharedParameterCount: 1707, fractionOfA: 1, fractionOfB: 1 });
    expect(o.mismatches).toEqual([
      { name: "decode_head.conv_seg.weight", shapeA: [19, 16, 1, 1], shapeB: [19, 16, 1, 1], dtypeA: "F32", dtypeB: "F16", mergeable: true },
      { name: "decode_head.conv_seg.bias", shapeA: [19], shapeB: [19], dtypeA: "F32", dtypeB: "F16", mergeable: true },
    ]);
  });

  it("shares the backbone only with a different-head model, with per-group counts", () => {
    const o = computeOverlap(A, B);
    expect(o.sharedTensorCount).toBe(4);
    expect(o.sharedParameterCount).toBe(1384);
    expect(o.fractionOfA).toBeCloseTo(1384 / 1707, 12);
    expect(o.fractionOfB).toBeCloseTo(1384 / 1568, 12);
    expect(o.groups).toEqual([
      { prefix: "backbone", shared: 4, sharedParameters: 1384, tensorsA: 4, tensorsB: 4 },
      { prefix: "decode_head", shared: 0, sharedParameters: 0, tensorsA: 2, tensorsB: 2 },
      { prefix: "panoptic_head", shared: 0, sharedParameters: 0, tensorsA: 0, tensorsB: 2 },
    ]);
    expect(o.mismatches).toEqual([
      { name: "decode_head.conv_seg.weight", shapeA: [19, 16, 1, 1], shapeB: [8, 16, 1, 1], dtypeA: "F32", dtypeB: "F32", mergeable: false },
      { name: "decode_head.conv_seg.bias", shapeA: [19], shapeB: [8], dtypeA: "F32", dtypeB: "F32", mergeable: false },
    ]);
  });

  it("never shares integer tensors and flags a parameter that is integer on the other side", () => {
    const o = computeOverlap(A, C);
    // stem 216 + 8, head 304 + 19 = 547; bn.weight is I8 in C, layer1 differs in shape.
    expect(o.sharedTensorCount).toBe(4);
    expect(o.sharedParameterCount).toBe(547);
    expect(o.fractionOfA).toBeCloseTo(547 / 1707, 12);
    expect(o.fractionOfB).toBeCloseTo(547 / 2855, 12);
    expect(o.mismatches).toEqual([
      { name: "backbone.bn.weight", shapeA: [8], shapeB: [8], dtypeA: "F32", dtypeB: "I8", mergeable: false },
      { name: "backbone.layer1.weight", shapeA: [16, 8, 3, 3], shapeB: [32, 8, 3, 3], dtypeA: "F32", dtypeB: "F32", mergeable: false },
    ]);
    expect(o.groups[0]).toEqual({ prefix: "backbone", shared: 2, sharedParameters: 224, tensorsA: 4, tensorsB: 4 });
  });

  it("finds nothing between unrelated models and copes with empty structures", () => {
    expect(computeOverlap(A, D)).toMatchObject({ sharedTensorCount: 0, sharedParameterCount: 0, fractionOfA: 0, fractionOfB: 0, mismatches: [] });
    expect(computeOverlap({ tensors: [] }, A)).toMatchObject({ sharedTensorCount: 0, fractionOfA: 0, fractionOfB: 0, groups: expect.any(Array) });
  });

  it("is symmetric in its counts", () => {
    for (const [x, y] of [[A, B], [A, C], [B, C], [A16, C]] as const) {
      const xy = computeOverlap(x, y);
      const yx = computeOverlap(y, x);
      expect([yx.sharedTensorCount, yx.sharedParameterCount, yx.fractionOfA, yx.mismatches.length])
        .toEqual([xy.sharedTensorCount, xy.sharedParameterCount, xy.fractionOfB, xy.mismatches.length]);
    }
  });

  it("reuses a structure's index across comparisons", () => {
    expect(overlapIndex(A)).toBe(overlapIndex(A));
  });

  it("agrees with a plain pairwise loop on random structure families", () => {
    let seed = 7;
    const random = () => { seed = (seed * 48271) % 2147483647; return seed / 2147483647; };
    const dtypes: DType[] = ["F32", "F32", "F32", "F16", "BF16", "I64"];
    const make = (family: number, head: number): StructureLike => {
      const tensors: OverlapTensor[] = [];
      for (let k = 0; k < 30; k++) {
        const width = k % 5 === family % 5 ? 4 + family : 4;
        tensors.push(t(`backbone.layer${k}.weight`, [width, 2], width * 2, random() < 0.1 ? dtypes[Math.floor(random() * dtypes.length)]! : "F32"));
      }
      for (let k = 0; k < 10; k++) tensors.push(t(`head${head % 3}.conv${k}.weight`, [head + 1], head + 1, dtypes[(head + k) % dtypes.length]!));
      return { tensors };
    };
    const structures: StructureLike[] = [];
    for (let f = 0; f < 4; f++) for (let h = 0; h < 5; h++) structures.push(make(f, h));
    // Identical backbones under other heads, so that whole-group sharing is exercised too.
    for (let k = 0; k < 6; k++) {
      structures.push({ tensors: [...structures[k]!.tensors.slice(0, 30), ...structures[19 - k]!.tensors.slice(30)] });
    }

    const reference = (a: StructureLike, b: StructureLike) => {
      let shared = 0;
      let elements = 0;
      const mismatches: TensorMismatch[] = [];
      for (const x of a.tensors) {
        const y = b.tensors.find((candidate) => candidate.name === x.name);
        if (y === undefined) continue;
        const px = x.mergeable && FLOAT.has(x.dtype);
        const py = y.mergeable && FLOAT.has(y.dtype);
        const sameShape = x.shape.length === y.shape.length && x.shape.every((d, i) => d === y.shape[i]);
        if (sameShape && px && py) {
          shared++;
          elements += x.elements;
          if (x.dtype !== y.dtype) mismatches.push({ name: x.name, shapeA: x.shape, shapeB: y.shape, dtypeA: x.dtype, dtypeB: y.dtype, mergeable: true });
        } else if (px || py) {
          mismatches.push({ name: x.name, shapeA: x.shape, shapeB: y.shape, dtypeA: x.dtype, dtypeB: y.dtype, mergeable: false });
        }
      }
      const total = (s: StructureLike) => s.tensors.filter((x) => x.mergeable && FLOAT.has(x.dtype)).reduce((sum, x) => sum + x.elements, 0);
      return { shared, elements, fractionOfA: total(a) ? elements / total(a) : 0, fractionOfB: total(b) ? elements / total(b) : 0, mismatches };
    };

    let nonTrivial = 0;
    for (const a of structures) {
      for (const b of structures) {
        const o = computeOverlap(a, b);
        const r = reference(a, b);
        expect({ shared: o.sharedTensorCount, elements: o.sharedParameterCount, fractionOfA: o.fractionOfA, fractionOfB: o.fractionOfB })
          .toEqual({ shared: r.shared, elements: r.elements, fractionOfA: r.fractionOfA, fractionOfB: r.fractionOfB });
        expect(o.mismatches.map((m) => m.name).sort()).toEqual(r.mismatches.map((m) => m.name).sort());
        if (r.shared > 0 && r.fractionOfA < 1) nonTrivial++;
      }
    }
    expect(nonTrivial).toBeGreaterThan(100);
  });
});

describe("compareStructures", () => {
  it("puts every name in one bucket, with totals beyond the cap", () => {
    const c = compareStructures(A, C, 1);
    expect(c.sharedTensorCount).toBe(4);
    expect(c.shared.total).toBe(4);
    expect(c.shared.items).toEqual([{ name: "backbone.stem.weight", shape: [8, 3, 3, 3], dtypeA: "F32", dtypeB: "F32" }]);
    expect(c.mismatched.total).toBe(2);
    expect(c.mismatched.items).toHaveLength(1);
    expect(c.neitherParameter).toEqual({ total: 1, items: [{ name: "backbone.bn.num_batches_tracked", shape: [], dtype: "I64" }] });
    expect(c.onlyInA).toEqual({ total: 0, items: [] });
    expect(c.onlyInB).toEqual({ total: 1, items: [{ name: "backbone.extra.weight", shape: [4], dtype: "F32" }] });
    // A's 7 tensors: 4 shared + 2 mismatched (not shared) + 1 neither + 0 only in A.
    expect(c.shared.total + c.mismatched.total + c.neitherParameter.total + c.onlyInA.total).toBe(A.tensors.length);
  });

  it("lists the other head's tensors as only in b", () => {
    const c = compareStructures(A, B);
    expect(c.onlyInB.items.map((x) => x.name)).toEqual(["panoptic_head.offset.weight", "panoptic_head.center.weight"]);
    expect(c.onlyInA.total).toBe(0);
    expect(c.mismatched.items.map((m) => [m.name, m.mergeable])).toEqual([["decode_head.conv_seg.weight", false], ["decode_head.conv_seg.bias", false]]);
  });
});
