import { DomainError } from "../errors";
import type { ParsedModel } from "../structure/types";
import { f32Tensor, syntheticModel } from "./fixtures/syntheticModel";
import { planMerge } from "./planMerge";

/** Gives each tensor of a synthetic model a positional key. */
function keyed(parsed: ParsedModel, keys: Record<string, string>): ParsedModel {
  return { ...parsed, tensors: parsed.tensors.map((t) => ({ ...t, positionKey: keys[t.name] })) };
}

// The anchor and a contributor numbered otherwise: the contributor's "onnx::Conv_7" is the anchor's
// "onnx::Conv_3" (key s); its "onnx::Conv_3" sits elsewhere (key h2) with the same shape.
const anchor = keyed(syntheticModel([f32Tensor("onnx::Conv_3", [2], 0, [0, 0]), f32Tensor("onnx::Conv_4", [3], 1, [0, 0, 0]), f32Tensor("head.w", [2], 2, [0, 0])], 3).parsed, {
  "onnx::Conv_3": "s", "onnx::Conv_4": "b", "head.w": "h1",
});
const contributor = keyed(syntheticModel([f32Tensor("onnx::Conv_7", [2], 0, [1, 1]), f32Tensor("onnx::Conv_8", [3], 1, [1, 1, 1]), f32Tensor("onnx::Conv_3", [2], 2, [1, 1])], 3).parsed, {
  "onnx::Conv_7": "s", "onnx::Conv_8": "b", "onnx::Conv_3": "h2",
});

describe("planMerge by position", () => {
  it("pairs each anchor tensor with the contributor tensor of the same key, whatever its name", () => {
    const plan = planMerge({ anchor, contributors: [contributor], matching: "POSITION" });
    expect(plan.matching).toBe("POSITION");
    expect(plan.tensors.map((p) => [p.tensor.name, p.action === "merge" ? p.inputs.map((x) => x.tensor.name) : p.reason])).toEqual([
      ["onnx::Conv_3", ["onnx::Conv_3", "onnx::Conv_7"]],
      ["onnx::Conv_4", ["onnx::Conv_4", "onnx::Conv_8"]],
      ["head.w", "NOT_SHARED"],
    ]);
    // By name only the anchor's onnx::Conv_3 finds a partner, the wrong one.
    const byName = planMerge({ anchor, contributors: [contributor] });
    expect(byName.matching).toBe("NAME");
    expect(byName.tensors.filter((p) => p.action === "merge").map((p) => p.action === "merge" && p.inputs[1]!.tensor.name)).toEqual(["onnx::Conv_3"]);
  });

  it("refuses a model without positional keys, naming it", () => {
    const unkeyed = { ...contributor, tensors: contributor.tensors.map((t) => ({ ...t, positionKey: undefined })) };
    expect(() => planMerge({ anchor, contributors: [unkeyed], matching: "POSITION", names: { contributors: ["plain@1"] } })).toThrow(DomainError);
    expect(() => planMerge({ anchor, contributors: [unkeyed], matching: "POSITION", names: { contributors: ["plain@1"] } })).toThrow(/plain@1 has no positional keys/);
  });
});
