import { parse } from "yaml";
import { DomainError } from "../../errors";
import { readMergekitYaml } from "./readMergekitYaml";
import { writeMergekitYaml, type MergekitRecipe } from "./writeMergekitYaml";

const recipe = (over: Partial<MergekitRecipe>): MergekitRecipe => ({
  method: "LAYERWISE",
  schedule: { kind: "LINEAR" },
  params: {},
  weights: null,
  anchor: "seg-a@1",
  contributors: ["seg-b@2"],
  base: null,
  layers: { count: 3, order: "GRAPH" },
  ...over,
});

function refusal(run: () => unknown): DomainError {
  try {
    run();
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
  throw new Error("expected a refusal");
}

/*
 * Expected configs, written by hand. N = 2 models, L = 3 layers, t = 0, 0.5, 1:
 *   w_a = 1/2 + 1/2 · s(t), w_b = 1 − w_a.
 *   LINEAR s = t            → a [0.5, 0.75, 1],  b [0.5, 0.25, 0]
 *   UNIFORM s = 0           → 0.5 each (a scalar)
 *   STEP cutoff 0.5         → s = 0, 1, 1  → a [0.5, 1, 1], b [0.5, 0, 0]
 *   CUSTOM knots [0, 0.5]   → s = 0, 0.25, 0.5 → a [0.5, 0.625, 0.75], b [0.5, 0.375, 0.25]
 */
describe("a merge recipe as a mergekit config", () => {
  it("LAYERWISE is linear with per-layer weight lists", () => {
    expect(writeMergekitYaml(recipe({}))).toBe(`merge_method: linear
models:
  - model: seg-a@1
    parameters:
      weight: [0.5, 0.75, 1]
  - model: seg-b@2
    parameters:
      weight: [0.5, 0.25, 0]
parameters:
  normalize: true
layermerge:
  anchor: seg-a@1
  schedule:
    kind: LINEAR
  layers: 3
  layer_order: GRAPH
`);
  });

  it("TASK_ARITHMETIC is task_arithmetic with its base model and lambda; a constant weight is a scalar", () => {
    expect(writeMergekitYaml(recipe({ method: "TASK_ARITHMETIC", schedule: { kind: "UNIFORM" }, params: { lambda: 0.8 }, base: "pre@1" }))).toBe(`merge_method: task_arithmetic
base_model: pre@1
models:
  - model: seg-a@1
    parameters:
      weight: 0.5
  - model: seg-b@2
    parameters:
      weight: 0.5
parameters:
  normalize: true
  lambda: 0.8
layermerge:
  anchor: seg-a@1
  schedule:
    kind: UNIFORM
  layers: 3
  layer_order: GRAPH
`);
  });

  it("TIES is ties with every model's density", () => {
    expect(writeMergekitYaml(recipe({ method: "TIES", schedule: { kind: "STEP", cutoff: 0.5 }, params: { lambda: 1, density: 0.2 }, base: "pre@1" }))).toBe(`merge_method: ties
base_model: pre@1
models:
  - model: seg-a@1
    parameters:
      weight: [0.5, 1, 1]
      density: 0.2
  - model: seg-b@2
    parameters:
      weight: [0.5, 0, 0]
      density: 0.2
parameters:
  normalize: true
  lambda: 1
layermerge:
  anchor: seg-a@1
  schedule:
    kind: STEP
    cutoff: 0.5
  layers: 3
  layer_order: GRAPH
`);
  });

  it("DARE is dare_linear with density = 1 − drop rate, its seed in the layermerge block", () => {
    expect(writeMergekitYaml(recipe({ method: "DARE", schedule: { kind: "CUSTOM", knots: [0, 0.5] }, params: { lambda: 1, dropRate: 0.9, seed: 7 }, base: "pre@1" }))).toBe(`merge_method: dare_linear
base_model: pre@1
models:
  - model: seg-a@1
    parameters:
      weight: [0.5, 0.625, 0.75]
      density: 0.1
  - model: seg-b@2
    parameters:
      weight: [0.5, 0.375, 0.25]
      density: 0.1
parameters:
  normalize: true
  lambda: 1
layermerge:
  anchor: seg-a@1
  schedule:
    kind: CUSTOM
    knots: [0, 0.5]
  layers: 3
  layer_order: GRAPH
  seed: 7
`);
  });

  it("SLERP is slerp from the anchor as base_model, t the contributor's per-layer weight", () => {
    // LINEAR: w_b = 1 − w_a = [0.5, 0.25, 0]; mergekit's slerp gives base_model at t = 0.
    expect(writeMergekitYaml(recipe({ method: "SLERP" }))).toBe(`merge_method: slerp
base_model: seg-a@1
models:
  - model: seg-a@1
  - model: seg-b@2
parameters:
  t: [0.5, 0.25, 0]
layermerge:
  anchor: seg-a@1
  schedule:
    kind: LINEAR
  layers: 3
  layer_order: GRAPH
`);
  });

  it("MODEL_STOCK is model_stock with its base model and no weights", () => {
    expect(writeMergekitYaml(recipe({ method: "MODEL_STOCK", schedule: { kind: "UNIFORM" }, base: "pre@1", contributors: ["seg-b@2", "seg-c@1"] }))).toBe(`merge_method: model_stock
base_model: pre@1
models:
  - model: seg-a@1
  - model: seg-b@2
  - model: seg-c@1
layermerge:
  anchor: seg-a@1
  schedule:
    kind: UNIFORM
  layers: 3
  layer_order: GRAPH
`);
  });

  it("reads a plain slerp config: base_model is the anchor, t per knot its schedule (s = 1 − 2t)", () => {
    const gradient = readMergekitYaml(`merge_method: slerp
base_model: a@1
models:
  - model: a@1
  - model: b@1
parameters:
  t: [0.5, 0.25, 0]
dtype: bfloat16
`);
    expect(gradient).toEqual({ method: "SLERP", schedule: { kind: "CUSTOM", knots: [0, 0.5, 1] }, params: {}, weights: null, anchor: "a@1", contributors: ["b@1"], base: null, layers: { count: null, order: null } });
    // base_model need not be listed among the models; t = ½ everywhere is the plain average.
    expect(readMergekitYaml(`merge_method: slerp\nbase_model: a@1\nmodels: [{ model: b@1 }]\nparameters: { t: 0.5 }\n`)).toMatchObject({ schedule: { kind: "UNIFORM" }, anchor: "a@1", contributors: ["b@1"], base: null });
    const stock = readMergekitYaml(`merge_method: model_stock\nbase_model: pre@1\nmodels: [{ model: a@1 }, { model: b@1 }, { model: c@1 }]\n`);
    expect(stock).toEqual({ method: "MODEL_STOCK", schedule: { kind: "UNIFORM" }, params: {}, weights: null, anchor: "a@1", contributors: ["b@1", "c@1"], base: "pre@1", layers: { count: null, order: null } });
  });

  it("reads back every method's config as the recipe it was written from", () => {
    const recipes: MergekitRecipe[] = [
      recipe({}),
      recipe({ method: "TASK_ARITHMETIC", schedule: { kind: "UNIFORM" }, params: { lambda: 0.8 }, base: "pre@1" }),
      recipe({ method: "TIES", schedule: { kind: "STEP", cutoff: 0.25 }, params: { lambda: 1.5, density: 0.3 }, base: "pre@1", weights: [2, 5], contributors: ["b@1", "c@1"] }),
      recipe({ method: "DARE", schedule: { kind: "COSINE" }, params: { lambda: 1, dropRate: 0.123456789, seed: 42 }, base: "pre@1", layers: { count: 17, order: "GRAPH" } }),
      recipe({ method: "DARE", schedule: { kind: "CUSTOM", knots: [0.1, 0.7, 0.3] }, params: { lambda: 2, dropRate: 0.1, seed: 0 }, base: "pre@1" }),
      recipe({ method: "SLERP", schedule: { kind: "COSINE" }, layers: { count: 9, order: "GRAPH" } }),
      recipe({ method: "SLERP", schedule: { kind: "UNIFORM" } }),
      recipe({ method: "MODEL_STOCK", schedule: { kind: "UNIFORM" }, base: "pre@1", contributors: ["b@1", "c@1"] }),
    ];
    for (const r of recipes) {
      const back = readMergekitYaml(writeMergekitYaml(r)!);
      expect(back).toEqual({ method: r.method, schedule: r.schedule, params: r.params, weights: r.weights, anchor: r.anchor, contributors: r.contributors, base: r.base, layers: r.layers });
    }
  });

  it("writes relative weights under a LINEAR schedule as the per-layer lists they give, and reads them back exactly", () => {
    // N = 3, L = 3, relative weights 3 : 1. w_a = 1/3 + 2/3 · t = 1/3, 2/3, 1; the rest split 3/4, 1/4.
    const r = recipe({ weights: [3, 1], contributors: ["b@1", "c@1"] });
    const text = writeMergekitYaml(r)!;
    const config = parse(text);
    const lists = config.models.map((m: { parameters: { weight: number[] } }) => m.parameters.weight);
    const expected = [[1 / 3, 2 / 3, 1], [(2 / 3) * 0.75, (1 / 3) * 0.75, 0], [(2 / 3) * 0.25, (1 / 3) * 0.25, 0]];
    expected.forEach((list, k) => list.forEach((v, l) => expect(lists[k][l]).toBeCloseTo(v, 14)));
    expect(config.layermerge.relative_weights).toEqual([3, 1]);
    expect(readMergekitYaml(text)).toMatchObject({ schedule: { kind: "LINEAR" }, weights: [3, 1], contributors: ["b@1", "c@1"] });
  });

  it("reads a plain mergekit config: the first model is the anchor, its share per knot the schedule", () => {
    const linear = readMergekitYaml(`merge_method: linear
models:
  - model: a@1
    parameters: { weight: 0.6 }
  - model: b@1
    parameters: { weight: 0.3 }
  - model: c@1
    parameters: { weight: 0.1 }
dtype: float16
`);
    // share 0.6 of N = 3: s = (0.6 − 1/3) / (2/3) = 0.4 at both ends; the rest split 3 : 1.
    expect(linear.schedule.kind).toBe("CUSTOM");
    const knots = (linear.schedule as { knots: number[] }).knots;
    expect(knots).toHaveLength(2);
    knots.forEach((k) => expect(k).toBeCloseTo(0.4, 14));
    expect(linear.weights![0]).toBeCloseTo(0.75, 14);
    expect(linear.weights![1]).toBeCloseTo(0.25, 14);
    expect(linear.layers).toEqual({ count: null, order: null });

    const ties = readMergekitYaml(`merge_method: ties
base_model: pre@1
models:
  - model: pre@1
  - model: a@1
    parameters: { weight: [0.5, 1], density: 0.5 }
  - model: b@1
    parameters: { weight: [0.5, 0], density: 0.5 }
parameters: { lambda: 0.9 }
`);
    expect(ties).toEqual({ method: "TIES", schedule: { kind: "CUSTOM", knots: [0, 1] }, params: { lambda: 0.9, density: 0.5 }, weights: null, anchor: "a@1", contributors: ["b@1"], base: "pre@1", layers: { count: null, order: null } });

    const equal = readMergekitYaml(`merge_method: linear\nmodels: [{ model: a@1 }, { model: b@1 }]\n`);
    expect(equal).toMatchObject({ schedule: { kind: "UNIFORM" }, weights: null });
  });

  it("refuses what it cannot run, naming it", () => {
    const cases: Array<[string, string, RegExp]> = [
      ["merge_method: [linear\n", "recipeYaml", /not valid YAML/],
      ["merge_method: passthrough\nmodels: [{ model: a@1 }]\n", "recipeYaml.merge_method", /"passthrough" is not supported; expected one of linear, task_arithmetic, ties, dare_linear, slerp, model_stock/],
      ["merge_method: linear\nslices: []\n", "recipeYaml.slices", /slice-wise/],
      ["merge_method: linear\nmodels: [{ model: a@1 }]\nmerge_mehtod: ties\n", "recipeYaml.merge_mehtod", /unknown key "merge_mehtod"/],
      ["merge_method: linear\nmodels: [{ model: a@1 }, { model: b@1, parameters: { density: 0.5 } }]\n", "recipeYaml.models.1.parameters.density", /not a per-model parameter/],
      ["merge_method: ties\nbase_model: p@1\nmodels: [{ model: a@1, parameters: { density: 0.5 } }, { model: b@1, parameters: { density: 0.3 } }]\n", "recipeYaml.models.1.parameters.density", /is 0\.3 but recipeYaml\.models\.0\.parameters\.density is 0\.5/],
      ["merge_method: linear\nmodels: [{ model: a@1, parameters: { weight: [{ filter: mlp, value: 1 }] } }, { model: b@1 }]\n", "recipeYaml.models.0.parameters.weight", /by tensor filter/],
      ["merge_method: linear\nmodels: [{ model: a@1, parameters: { weight: 0.2 } }, { model: b@1, parameters: { weight: 0.8 } }]\n", "recipeYaml.models.0.parameters.weight", /the anchor \(a@1\) weighs 0\.2 of knot 0, less than an equal share 1\/2/],
      ["merge_method: linear\nmodels: [{ model: a@1, parameters: { weight: [0.5, 1] } }, { model: b@1, parameters: { weight: [0.5, 0] } }]\nlayermerge: { schedule: { kind: UNIFORM }, layers: 2 }\n", "recipeYaml.models.0.parameters.weight", /not what layermerge\.schedule and relative_weights give over 2 layers/],
      ["merge_method: linear\nmodels: [{ model: a@1 }, { model: b@1 }]\nlayermerge: { anchor: c@1 }\n", "recipeYaml.layermerge.anchor", /"c@1" is not one of the models/],
      ["merge_method: dare_linear\nbase_model: p@1\nmodels: [{ model: a@1 }, { model: b@1 }]\nparameters: { rescale: false }\n", "recipeYaml.parameters.rescale", /always rescales/],
      ["merge_method: linear\nmodels: [{ model: a@1 }, { model: b@1 }]\nlayermerge: { schedule: { kind: STEP, cutoff: 2 } }\n", "recipeYaml.layermerge.schedule", /STEP cutoff must be in \[0, 1\]/],
      ["merge_method: slerp\nmodels: [{ model: a@1 }, { model: b@1 }]\nparameters: { t: 0.5 }\n", "recipeYaml.base_model", /must name the model slerp interpolates from \(t = 0\), the anchor/],
      ["merge_method: slerp\nbase_model: a@1\nmodels: [{ model: a@1 }, { model: b@1 }]\nparameters: { t: [0.5, 0.7] }\n", "recipeYaml.parameters.t", /the anchor \(a@1\) weighs 0\.3\d* of knot 1, less than an equal share 1\/2/],
      ["merge_method: slerp\nbase_model: a@1\nmodels: [{ model: a@1 }, { model: b@1, parameters: { weight: 1 } }]\nparameters: { t: 0.5 }\n", "recipeYaml.models.1.parameters.weight", /not a per-model parameter/],
      ["merge_method: slerp\nbase_model: a@1\nmodels: [{ model: b@1 }]\nparameters: { t: 0.5 }\nlayermerge: { anchor: b@1 }\n", "recipeYaml.layermerge.anchor", /must be the base_model "a@1"/],
      ["merge_method: model_stock\nbase_model: p@1\nmodels: [{ model: a@1 }, { model: b@1 }]\nparameters: { t: 0.5 }\n", "recipeYaml.parameters.t", /not a parameter of this merge method/],
    ];
    for (const [text, field, message] of cases) {
      const error = refusal(() => readMergekitYaml(text));
      expect({ text, code: error.code, field: error.field }).toEqual({ text, code: "BAD_USER_INPUT", field });
      expect(error.message).toMatch(message);
    }
  });
});
