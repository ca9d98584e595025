import { ancestorNames, comparedTensors } from "./comparedTensors";
import type { OverlapTensor } from "../structure/overlapIndex";

/** A parameter tensor of a hand-made structure. */
const t = (name: string, shape: number[], positionKey: string | null, group = name.split(".")[0]!): OverlapTensor => ({
  name, shape, dtype: "F32", mergeable: true, group, elements: shape.reduce((a, b) => a * b, 1), positionKey, layerIndex: 0,
});

describe("comparedTensors", () => {
  // The same two-layer network exported twice with generated names numbered differently.
  const a = { tensors: [t("onnx::Conv_1", [4, 3], "k1", "g"), t("onnx::Conv_2", [4], "k2", "g"), t("head.w", [2, 4], "k3", "head")] };
  const b = { tensors: [t("onnx::Conv_7", [4, 3], "k1"), t("onnx::Conv_8", [4], "k2"), t("head.w", [2, 4], "k3")] };

  test("by position: every tensor with b's partner of the same key, in a's order and a's groups", () => {
    const c = comparedTensors(a, b, "POSITION");
    expect(c.tensors).toEqual([
      { group: "g", a: "onnx::Conv_1", b: "onnx::Conv_7" },
      { group: "g", a: "onnx::Conv_2", b: "onnx::Conv_8" },
      { group: "head", a: "head.w", b: "head.w" },
    ]);
    expect(c.elements).toBe(12 + 4 + 8);
    // By name only the one real name pairs.
    expect(comparedTensors(a, b, "NAME").tensors).toEqual([{ group: "head", a: "head.w", b: "head.w" }]);
    expect(comparedTensors(a, b, "NAME").hash).not.toBe(c.hash);
  });

  test("a key whose shapes differ is not shared", () => {
    const other = { tensors: [t("x", [4, 3], "k1"), t("y", [5], "k2")] };
    expect(comparedTensors(a, other, "POSITION").tensors.map((p) => p.b)).toEqual(["x"]);
  });

  test("the ancestor's names are found as the pair was matched; missing any tensor, there is none", () => {
    const ancestor = { tensors: [t("onnx::Conv_40", [4, 3], "k1"), t("onnx::Conv_41", [4], "k2"), t("head.w", [2, 4], "k3")] };
    expect(ancestorNames(a, ancestor, comparedTensors(a, b, "POSITION"))).toEqual(["onnx::Conv_40", "onnx::Conv_41", "head.w"]);
    expect(ancestorNames(a, ancestor, comparedTensors(a, b, "NAME"))).toEqual(["head.w"]);
    const lacking = { tensors: [t("onnx::Conv_40", [4, 3], "k1"), t("head.w", [2, 4], "k3")] };
    expect(ancestorNames(a, lacking, comparedTensors(a, b, "POSITION"))).toBeNull();
    // Same names, no keys (a safetensors ancestor): nothing to find by position.
    const unkeyed = { tensors: a.tensors.map((x) => ({ ...x, positionKey: null })) };
    expect(ancestorNames(a, unkeyed, comparedTensors(a, b, "POSITION"))).toBeNull();
  });
});
