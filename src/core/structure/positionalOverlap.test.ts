import { compareStructures } from "./compareStructures";
import { computeOverlap } from "./computeOverlap";
import type { OverlapTensor, StructureLike } from "./overlapIndex";
import { overlapBy } from "./positionalOverlap";
import { resolveMatching, resolveMergeMatching } from "./tensorMatching";

/** `elements` is given by hand at every call site, never computed from the shape here. */
function t(name: string, shape: number[], elements: number, positionKey: string | undefined, layerIndex: number): OverlapTensor {
  return { name, shape, dtype: "F32", mergeable: true, group: name.includes("::") ? "(generated)" : name.split(".")[0]!, elements, positionKey, layerIndex };
}

// Anchor: stem (k0, k1) and block (k2) share positions with the other export; its head (k3) does not.
// Parameter elements: 216 + 8 + 1152 + 304 = 1680; shared 216 + 8 + 1152 = 1376.
const A: StructureLike = {
  tensors: [
    t("onnx::Conv_10", [8, 3, 3, 3], 216, "k0", 0),
    t("onnx::Conv_11", [8], 8, "k1", 0),
    t("onnx::Conv_13", [16, 8, 3, 3], 1152, "k2", 1),
    t("head.cls.weight", [19, 16, 1, 1], 304, "k3", 2),
  ],
};
// The same backbone numbered otherwise, under another head whose classifier has A's name and shape
// but another place (k9). Parameter elements: 1376 + 304 = 1680 + an extra 32 = 1712.
const B: StructureLike = {
  tensors: [
    t("onnx::Conv_52", [8, 3, 3, 3], 216, "k0", 0),
    t("onnx::Conv_53", [8], 8, "k1", 0),
    t("onnx::Conv_10", [16, 8, 3, 3], 1152, "k2", 1),
    t("head.cls.weight", [19, 16, 1, 1], 304, "k9", 2),
    t("head.aux.weight", [2, 16, 1, 1], 32, "k8", 2),
  ],
};

describe("positional overlap", () => {
  it("pairs tensors by key whatever their names, and only those", () => {
    const o = overlapBy(A, B, "POSITION");
    expect(o.sharedTensorCount).toBe(3);
    expect(o.sharedParameterCount).toBe(1376);
    expect(o.fractionOfA).toBeCloseTo(1376 / 1680, 12);
    expect(o.fractionOfB).toBeCloseTo(1376 / 1712, 12);
    expect(o.mismatches).toEqual([]);
    expect(o.groups.find((g) => g.prefix === "(generated)")).toMatchObject({ shared: 3, sharedParameters: 1376 });
    expect(o.groups.find((g) => g.prefix === "head")).toMatchObject({ shared: 0, tensorsA: 1, tensorsB: 2 });
    // By name the same two share the head's classifier and call onnx::Conv_10 a mismatch.
    const byName = computeOverlap(A, B);
    expect(byName.sharedTensorCount).toBe(1);
    expect(byName.mismatches.map((m) => m.name)).toEqual(["onnx::Conv_10"]);
  });

  it("finds nothing without a shared first-layer key, and nothing for structures without keys", () => {
    const other: StructureLike = { tensors: [t("x", [8, 3, 3, 3], 216, "z0", 0), t("y", [16, 8, 3, 3], 1152, "k2", 1)] };
    expect(overlapBy(A, other, "POSITION").sharedTensorCount).toBe(0);
    const unkeyed: StructureLike = { tensors: A.tensors.map((x) => ({ ...x, positionKey: undefined })) };
    expect(overlapBy(A, unkeyed, "POSITION").sharedTensorCount).toBe(0);
    expect(overlapBy(A, unkeyed, "NAME").sharedTensorCount).toBe(4);
  });

  it("compares side by side with b's names for each pair", () => {
    const c = compareStructures(A, B, 100, "POSITION");
    expect(c.matching).toBe("POSITION");
    expect(c.shared.items.map((s) => [s.name, s.nameB])).toEqual([
      ["onnx::Conv_10", "onnx::Conv_52"],
      ["onnx::Conv_11", "onnx::Conv_53"],
      ["onnx::Conv_13", "onnx::Conv_10"],
    ]);
    expect(c.onlyInA.items.map((x) => x.name)).toEqual(["head.cls.weight"]);
    expect(c.onlyInB.items.map((x) => x.name)).toEqual(["head.cls.weight", "head.aux.weight"]);
    const byName = compareStructures(A, B);
    expect(byName.matching).toBe("NAME");
    expect(byName.shared.items.map((s) => [s.name, s.nameB])).toEqual([["head.cls.weight", undefined]]);
  });
});

describe("resolveMatching", () => {
  const named = { tensors: [{ positionKey: "a" }, { positionKey: "b" }], generatedNameCount: 0 };
  const generated = { tensors: Array.from({ length: 10 }, (_, i) => ({ positionKey: `k${i}` })), generatedNameCount: 2 };
  const fewGenerated = { tensors: Array.from({ length: 10 }, (_, i) => ({ positionKey: `k${i}` })), generatedNameCount: 1 };
  const noKeys = { tensors: [{}, {}], generatedNameCount: 0 };

  it("AUTO uses positions when either side's names are generated (over a tenth) and both have keys", () => {
    expect(resolveMatching("AUTO", named, named)).toBe("NAME");
    expect(resolveMatching(undefined, named, generated)).toBe("POSITION");
    expect(resolveMatching("AUTO", generated, named)).toBe("POSITION");
    expect(resolveMatching("AUTO", fewGenerated, named)).toBe("NAME");
    expect(resolveMatching("AUTO", generated, noKeys)).toBe("NAME");
  });

  it("for a merge, AUTO uses positions when any input's names are generated and every input has keys", () => {
    expect(resolveMergeMatching("AUTO", [named, named, generated])).toBe("POSITION");
    expect(resolveMergeMatching("AUTO", [named, named])).toBe("NAME");
    expect(resolveMergeMatching(null, [generated, noKeys])).toBe("NAME");
    expect(resolveMergeMatching("NAME", [generated, generated])).toBe("NAME");
  });

  it("takes NAME and POSITION as asked", () => {
    expect(resolveMatching("NAME", generated, generated)).toBe("NAME");
    expect(resolveMatching("POSITION", named, named)).toBe("POSITION");
  });
});
