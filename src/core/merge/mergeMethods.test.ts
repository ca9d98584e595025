import { DomainError } from "../errors";
import { MERGE_METHODS, MERGE_METHOD_NAMES, resolveMethodName, resolveMethodParams } from "./mergeMethods";

describe("MERGE_METHODS registry", () => {
  it("lists the methods with their papers and base requirements", () => {
    expect(MERGE_METHOD_NAMES).toEqual(["LAYERWISE", "TASK_ARITHMETIC", "TIES", "DARE", "SLERP", "MODEL_STOCK"]);
    expect(Object.keys(MERGE_METHODS)).toEqual([...MERGE_METHOD_NAMES]);
    expect(MERGE_METHOD_NAMES.map((m) => MERGE_METHODS[m].paper.arxiv)).toEqual(["2409.15813", "2212.04089", "2306.01708", "2311.03099", "2403.13257", "2403.19522"]);
    expect(MERGE_METHOD_NAMES.map((m) => MERGE_METHODS[m].needsBase)).toEqual([false, true, true, true, false, true]);
  });

  it("is frozen, parameter schemas included", () => {
    expect(Object.isFrozen(MERGE_METHODS)).toBe(true);
    expect(Object.isFrozen(MERGE_METHODS.TIES.parameters[1])).toBe(true);
    expect(() => {
      (MERGE_METHODS.TIES.parameters[1] as { default: number }).default = 0.9;
    }).toThrow(TypeError);
  });
});

describe("resolveMethodParams", () => {
  it("fills defaults: λ = 1, density 0.2, drop rate 0.9, seed 0", () => {
    expect(resolveMethodParams("LAYERWISE", undefined)).toEqual({});
    expect(resolveMethodParams("TASK_ARITHMETIC", null)).toEqual({ lambda: 1 });
    expect(resolveMethodParams("TIES", {})).toEqual({ lambda: 1, density: 0.2 });
    expect(resolveMethodParams("DARE", { seed: 42 })).toEqual({ lambda: 1, dropRate: 0.9, seed: 42 });
  });

  it.each([
    ["TIES", { density: 0 }, /density must be in \(0, 1\]/, "input.params.density"],
    ["TIES", { density: 1.01 }, /density must be in \(0, 1\]/, "input.params.density"],
    ["DARE", { dropRate: 1 }, /dropRate must be in \[0, 1\)/, "input.params.dropRate"],
    ["DARE", { seed: 1.5 }, /seed must be an integer/, "input.params.seed"],
    ["DARE", { seed: "7" }, /seed must be a finite number/, "input.params.seed"],
    ["LAYERWISE", { lambda: 1 }, /LAYERWISE has no parameter "lambda"; it takes no parameters/, "input.params.lambda"],
    ["TIES", { k: 0.2 }, /its parameters are lambda, density/, "input.params.k"],
  ] as const)("%s %j is refused", (method, params, message, field) => {
    try {
      resolveMethodParams(method, params);
      throw new Error("expected a DomainError");
    } catch (e) {
      expect(e).toBeInstanceOf(DomainError);
      expect((e as DomainError).message).toMatch(message);
      expect((e as DomainError).field).toBe(field);
    }
  });

  it("refuses unknown method names and defaults to LAYERWISE", () => {
    expect(resolveMethodName(undefined)).toBe("LAYERWISE");
    expect(() => resolveMethodName("SPHERICAL")).toThrow(/unknown merge method "SPHERICAL"; expected one of LAYERWISE, TASK_ARITHMETIC, TIES, DARE, SLERP, MODEL_STOCK/);
  });
});
