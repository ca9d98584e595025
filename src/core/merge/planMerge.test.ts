import { DomainError } from "../errors";
import { goldenScenarios } from "./fixtures/goldenScenarios";
import { f32Tensor, syntheticModel } from "./fixtures/syntheticModel";
import { MergePlanInput, planMerge } from "./planMerge";

// A panoptic anchor and a semantic contributor sharing a backbone (the paper's cross-task case),
// plus a second contributor sharing only the first layer.
const anchor = syntheticModel(
  [
    f32Tensor("backbone.stem.weight", [4], 0, [0, 0, 0, 0]),
    f32Tensor("backbone.stem.bias", [2], 0, [0, 0]),
    f32Tensor("backbone.block.weight", [6], 1, [0, 0, 0, 0, 0, 0]),
    { name: "backbone.block.index", shape: [2], dtype: "I64", layerIndex: 1, bytes: new Uint8Array(16) },
    f32Tensor("panoptic_head.weight", [8], 2, new Array(8).fill(0)),
  ],
  3,
);
const semantic = syntheticModel(
  [
    f32Tensor("backbone.stem.weight", [4], 0, [1, 1, 1, 1]),
    f32Tensor("backbone.stem.bias", [2], 0, [1, 1]),
    f32Tensor("backbone.block.weight", [6], 1, [1, 1, 1, 1, 1, 1]),
    f32Tensor("decode_head.weight", [5], 2, [1, 1, 1, 1, 1]),
  ],
  3,
);
const stemOnly = syntheticModel([f32Tensor("backbone.stem.weight", [4], 0, [2, 2, 2, 2]), f32Tensor("backbone.block.weight", [3, 2], 1, [2, 2, 2, 2, 2, 2])], 2);

const input = (over: Partial<MergePlanInput> = {}): MergePlanInput => ({ anchor: anchor.parsed, contributors: [semantic.parsed, stemOnly.parsed], ...over });

describe("planMerge", () => {
  it("merges shared floating tensors, copies the rest, N counted per tensor", () => {
    const plan = planMerge(input());
    expect(plan.tensors.map((p) => [p.tensor.name, p.action, p.action === "copy" ? p.reason : p.inputs.map((x) => x.model)])).toEqual([
      ["backbone.stem.weight", "merge", [0, 1, 2]],
      ["backbone.stem.bias", "merge", [0, 1]],
      // stemOnly's block.weight is [3, 2], not [6]: not shared
      ["backbone.block.weight", "merge", [0, 1]],
      ["backbone.block.index", "copy", "NOT_FLOATING"],
      ["panoptic_head.weight", "copy", "NOT_SHARED"],
    ]);
    expect([plan.mergedCount, plan.copiedCount]).toEqual([3, 2]);
    // LINEAR, L = 3. stem.weight: N = 3, t = 0 → 1/3 each. stem.bias: N = 2, t = 0 → 1/2 each.
    // block.weight: N = 2, t = 1/2 → w_a = 1/2 + 1/2·1/2 = 3/4, w_semantic = 1/4.
    const weights = plan.tensors.map((p) => (p.action === "merge" ? p.inputs.map((x) => x.weight) : []));
    [1 / 3, 1 / 3, 1 / 3].forEach((w, i) => expect(weights[0][i]).toBeCloseTo(w, 15));
    expect(weights[1]).toEqual([0.5, 0.5]);
    expect(weights[2]).toEqual([0.75, 0.25]);
  });

  it("reports per-layer and mean effective weights, weighted by element counts", () => {
    const plan = planMerge(input());
    // layer 0: stem.weight (4 elements, 1/3 each) and stem.bias (2 elements, 1/2, 1/2, 0):
    //   anchor (4/3 + 1)/6 = 7/18, semantic 7/18, stemOnly (4/3)/6 = 2/9
    // layer 1: block.weight only: [3/4, 1/4, 0];  layer 2: nothing merged → the anchor's [1, 0, 0]
    expect(plan.layers.map((r) => r.mergedTensors)).toEqual([2, 1, 0]);
    [7 / 18, 7 / 18, 2 / 9].forEach((w, i) => expect(plan.layers[0].weights[i]).toBeCloseTo(w, 15));
    expect(plan.layers[1].weights).toEqual([0.75, 0.25, 0]);
    expect(plan.layers[2].weights).toEqual([1, 0, 0]);
    // mean over 12 merged elements: anchor (4/3 + 1 + 4.5)/12 = (41/6)/12 = 41/72,
    //   semantic (4/3 + 1 + 1.5)/12 = (23/6)/12 = 23/72, stemOnly (4/3)/12 = 8/72
    [41 / 72, 23 / 72, 8 / 72].forEach((w, i) => expect(plan.meanWeights[i]).toBeCloseTo(w, 15));
    expect(plan.mergedElements).toBe(12);
    // output data: 4·4 + 2·4 + 6·4 + 2·8 + 8·4 = 96 bytes; inputs: stem.weight 3·16, bias 2·8, block 2·24 = 112
    expect(plan.expectedOutputBytes).toBe(96);
    expect(plan.inputBytes).toBe(112);
  });

  it.each(goldenScenarios.map((s) => [s.name, s] as const))("per-layer and mean weights match makeGoldens.py: %s", (_name, s) => {
    const plan = planMerge({
      anchor: s.anchor.parsed,
      contributors: s.contributors.map((c) => c.parsed),
      base: s.base?.parsed,
      method: s.method,
      schedule: s.schedule,
      weights: s.weights,
      params: s.params,
    });
    plan.meanWeights.forEach((w, i) => expect(w).toBeCloseTo(s.meanWeights[i], 12));
    plan.layers.forEach((row, l) => row.weights.forEach((w, i) => expect(w).toBeCloseTo(s.layers[l][i], 12)));
  });

  it("gives MODEL_STOCK the UNIFORM schedule when none is asked for (every fine-tuned model weighs 1/k)", () => {
    const plan = planMerge(input({ method: "MODEL_STOCK", base: anchor.parsed }));
    expect(plan.schedule).toEqual({ kind: "UNIFORM" });
    const stem = plan.tensors.find((p) => p.tensor.name === "backbone.stem.weight");
    expect(stem?.action === "merge" && stem.inputs.map((x) => x.weight * 3)).toEqual([1, 1, 1].map((v) => expect.closeTo(v, 14)));
  });

  it("merges tensors the base lacks as LAYERWISE", () => {
    const base = syntheticModel([f32Tensor("backbone.stem.weight", [4], 0, [0, 0, 0, 0])], 1);
    const plan = planMerge(input({ method: "TIES", base: base.parsed }));
    expect(plan.tensors.filter((p) => p.action === "merge").map((p) => [p.tensor.name, p.action === "merge" && p.method, p.action === "merge" && !!p.baseTensor])).toEqual([
      ["backbone.stem.weight", "TIES", true],
      ["backbone.stem.bias", "LAYERWISE", false],
      ["backbone.block.weight", "LAYERWISE", false],
    ]);
    expect(plan.layerwiseFallbackCount).toBe(2);
    expect(plan.params).toEqual({ lambda: 1, density: 0.2 });
  });

  const unrelated = syntheticModel([f32Tensor("other.weight", [4], 0, [1, 1, 1, 1])], 1);
  it.each<[string, Partial<MergePlanInput>, RegExp, string]>([
    ["no contributors", { contributors: [] }, /at least one model besides the anchor/, "input.modelIds"],
    ["nothing shared", { contributors: [unrelated.parsed] }, /nothing to merge: no contributor shares a floating tensor/, "input.modelIds"],
    ["weights length", { weights: [1] }, /weights has 1 entries but there are 2 contributors/, "input.weights"],
    ["negative weight", { weights: [1, -1] }, /weight 1 \(for contributor 2\) must be a finite number ≥ 0/, "input.weights.1"],
    ["all-zero weights on a tensor", { weights: [0, 1] }, /tensor "backbone.stem.bias" is shared with contributor 1 whose relative weights are all 0/, "input.weights"],
    ["missing base", { method: "DARE" }, /DARE needs baseModelId/, "input.baseModelId"],
    ["base for LAYERWISE", { base: unrelated.parsed }, /LAYERWISE does not use a base model/, "input.baseModelId"],
    ["base sharing nothing", { method: "TASK_ARITHMETIC", base: unrelated.parsed }, /base shares none of the merged tensors/, "input.baseModelId"],
    ["bad params", { method: "TIES", base: anchor.parsed, params: { density: 2 } }, /density must be in/, "input.params.density"],
    ["SLERP with two contributors", { method: "SLERP" }, /SLERP interpolates between exactly two models, the anchor and one contributor; got 2 contributors/, "input.modelIds"],
    ["SLERP with relative weights", { method: "SLERP", contributors: [semantic.parsed], weights: [2] }, /SLERP takes no relative weights/, "input.weights"],
    ["SLERP with a base", { method: "SLERP", contributors: [semantic.parsed], base: anchor.parsed }, /SLERP does not use a base model/, "input.baseModelId"],
    ["MODEL_STOCK without a base", { method: "MODEL_STOCK" }, /MODEL_STOCK needs baseModelId/, "input.baseModelId"],
    ["MODEL_STOCK with relative weights", { method: "MODEL_STOCK", base: anchor.parsed, weights: [1, 2] }, /MODEL_STOCK takes no relative weights/, "input.weights"],
    ["MODEL_STOCK with a LINEAR schedule", { method: "MODEL_STOCK", base: anchor.parsed, schedule: { kind: "LINEAR" } }, /its schedule must be UNIFORM \(its default\), not LINEAR/, "input.schedule.kind"],
  ])("refuses %s", (_label, over, message, field) => {
    try {
      planMerge(input(over));
      throw new Error("expected a DomainError");
    } catch (e) {
      expect(e).toBeInstanceOf(DomainError);
      expect((e as DomainError).code).toBe("BAD_USER_INPUT");
      expect((e as DomainError).message).toMatch(message);
      expect((e as DomainError).field).toBe(field);
    }
  });

  it("names models in messages when given names", () => {
    expect(() => planMerge(input({ weights: [0, 1], names: { anchor: "a", contributors: ["daformer-gta", "hrda-syn"] } }))).toThrow(
      /shared with daformer-gta whose relative weights/,
    );
  });
});

describe("planMerge with per-group knots", () => {
  it("weighs a tensor by its group's CUSTOM knots (longest prefix), the others by the schedule", () => {
    // L = 3: t = 0 (stem), 0.5 (block). Group "backbone.block." knots [0, 0.6, 1] → s(0.5) = 0.6;
    // group "backbone." knots [0.2, 0.2] → s = 0.2 for the stem. No group matches the head.
    const plan = planMerge(input({ contributors: [semantic.parsed], schedule: { kind: "LINEAR", groups: [{ prefix: "backbone.", knots: [0.2, 0.2] }, { prefix: "backbone.block.", knots: [0, 0.6, 1] }] } }));
    const w = (name: string) => (plan.tensors.find((t) => t.tensor.name === name) as { inputs: { weight: number }[] }).inputs.map((x) => x.weight);
    // N = 2: w_a = 1/2 + 1/2 · s
    expect(w("backbone.stem.weight")).toEqual([0.5 + 0.5 * 0.2, 1 - (0.5 + 0.5 * 0.2)]);
    expect(w("backbone.block.weight")[0]).toBeCloseTo(0.5 + 0.5 * 0.6, 15);
    expect(plan.schedule).toEqual({ kind: "LINEAR", groups: [{ prefix: "backbone.", knots: [0.2, 0.2] }, { prefix: "backbone.block.", knots: [0, 0.6, 1] }] });
    expect(planMerge(input({ schedule: { kind: "LINEAR" } })).schedule).toEqual({ kind: "LINEAR" });
  });

  it("refuses empty or repeated prefixes and bad knots, naming the field", () => {
    const bad = (groups: unknown) => {
      try {
        planMerge(input({ schedule: { kind: "LINEAR", groups: groups as never } }));
      } catch (e) {
        return (e as DomainError).field;
      }
      return null;
    };
    expect(bad([{ prefix: "", knots: [0, 1] }])).toBe("input.schedule.groups.0.prefix");
    expect(bad([{ prefix: "a", knots: [0, 1] }, { prefix: "a", knots: [0, 1] }])).toBe("input.schedule.groups.1.prefix");
    expect(bad([{ prefix: "a", knots: [0, 1.5] }])).toBe("input.schedule.groups.0.knots.1");
    expect(bad([{ prefix: "a", knots: [0.5] }])).toBe("input.schedule.groups.0.knots");
  });
});
