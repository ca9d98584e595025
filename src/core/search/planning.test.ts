import { candidateKey, TensorMix } from "./candidateKey";
import { combinations, enumerateCandidates, enumerateCandidatesAsync, SearchRecipe } from "./enumerateCandidates";
import { clipUnit, CmaEs, cmaPopulationSize } from "./cmaEs";
import { symmetricEigen } from "./symmetricEigen";

/*
 * A pool of four models: a and b share one architecture (structure "S"), c another ("T") that
 * shares the backbone tensor "bb" only, d like a. Effective weights follow the layer-wise rule
 * for one layer at t = 1 (s = 1 for LINEAR, 0 for UNIFORM): written out here, not computed by
 * the code under test.
 */
const structure: Record<string, string> = { a: "S", b: "S", c: "T", d: "S" };
const tensors: Record<string, string[]> = { S: ["bb", "head"], T: ["bb", "head2"] };
function mixes(recipe: SearchRecipe<string, "UNIFORM" | "LINEAR">): TensorMix[] {
  const own = tensors[structure[recipe.anchorId]];
  return own.map((name) => {
    const sharing = [recipe.anchorId, ...recipe.contributorIds.filter((id) => tensors[structure[id]].includes(name))];
    const N = sharing.length;
    const s = recipe.schedule === "LINEAR" ? 1 : 0;
    const wa = 1 / N + (1 - 1 / N) * s;
    return { name, parts: sharing.map((id, k) => ({ modelId: id, weight: k === 0 ? wa : (1 - wa) / (N - 1) })) };
  });
}
const keyOf = (r: SearchRecipe<string, "UNIFORM" | "LINEAR">) => candidateKey(structure[r.anchorId], "", mixes(r));

describe("candidate plan", () => {
  it("lists singles, then pairs, then triples in pool order and drops repeats by key", () => {
    const plan = enumerateCandidates({ poolIds: ["a", "b", "c"], anchorIds: ["a", "b", "c"], maxModels: 3, includeSingles: true, methods: ["LAYERWISE"], schedules: ["UNIFORM", "LINEAR"] }, 100, keyOf);
    const names = plan.candidates.map(({ recipe: r }) => `${r.anchorId}${r.contributorIds.join("")}:${r.schedule ?? "-"}`);
    // UNIFORM a+b and b+a are one soup; LINEAR with s = 1 at the only layer keeps the anchor, so it is the single.
    // c anchoring a, b under UNIFORM: bb is a 3-soup in every case, head2 is c's alone.
    expect(names).toEqual(["a:-", "b:-", "c:-", "ab:UNIFORM", "ac:UNIFORM", "ca:UNIFORM", "bc:UNIFORM", "cb:UNIFORM", "abc:UNIFORM", "cab:UNIFORM"]);
    expect(plan.truncated).toBe(false);
    // 3 singles + 3 pairs × 2 anchors × 2 schedules + 1 triple × 3 anchors × 2 schedules = 21 recipes, 10 distinct
    expect(plan.duplicates).toBe(11);
  });

  it("cuts at the budget and says so; a budget that fits exactly is not truncated", () => {
    const space = { poolIds: ["a", "b", "c"], anchorIds: ["a"], maxModels: 2, includeSingles: true, methods: ["LAYERWISE"], schedules: ["UNIFORM" as const] };
    const cut = enumerateCandidates(space, 4, keyOf);
    expect(cut.candidates.map((c) => c.recipe.anchorId + c.recipe.contributorIds.join(""))).toEqual(["a", "b", "c", "ab"]);
    expect(cut.truncated).toBe(true);
    expect(enumerateCandidates(space, 5, keyOf).truncated).toBe(false);
    expect(() => enumerateCandidates(space, 0, keyOf)).toThrow(/maxCandidates/);
  });

  it("crosses each method's parameter points with the schedules, methods without a grid at their defaults", () => {
    const space = { poolIds: ["a", "b"], anchorIds: ["a"], maxModels: 2, includeSingles: false, methods: ["TIES", "LAYERWISE"], schedules: ["UNIFORM" as const, "LINEAR" as const], paramGrids: [{ method: "TIES", points: [{ density: 0.2 }, { density: 0.8 }] }] };
    // The method and its parameters are part of the key, as the planner's keys are.
    const keyed = (r: SearchRecipe<string, "UNIFORM" | "LINEAR">) => `${r.method} ${JSON.stringify(r.params)} ${r.schedule}`;
    const names = enumerateCandidates(space, 100, keyed).candidates.map(({ recipe: r }) => keyed(r));
    expect(names).toEqual([
      'TIES {"density":0.2} UNIFORM', 'TIES {"density":0.2} LINEAR', 'TIES {"density":0.8} UNIFORM', 'TIES {"density":0.8} LINEAR',
      "LAYERWISE null UNIFORM", "LAYERWISE null LINEAR",
    ]);
  });

  it("keys recipes only until the budget is full and one more distinct candidate shows the cut", async () => {
    const space = { poolIds: ["a", "b", "c", "d"], anchorIds: ["a", "b", "c", "d"], maxModels: 3, includeSingles: true, methods: ["LAYERWISE"], schedules: ["UNIFORM" as const, "LINEAR" as const] };
    const asked: string[] = [];
    const name = (r: SearchRecipe<string, "UNIFORM" | "LINEAR">) => `${r.anchorId}${r.contributorIds.join("")}:${r.schedule ?? "-"}`;
    const cut = await enumerateCandidatesAsync(space, 5, async (r) => {
      asked.push(name(r));
      return keyOf(r);
    });
    expect(cut).toEqual(enumerateCandidates(space, 5, keyOf));
    expect(cut.truncated).toBe(true);
    // 4 singles, a+b UNIFORM (5th), a+b LINEAR (= the single a), b+a UNIFORM (= a+b), b+a LINEAR (= b),
    // then a+c UNIFORM: distinct, over the budget — nothing after it is keyed (the space has 52 recipes).
    expect(asked).toEqual(["a:-", "b:-", "c:-", "d:-", "ab:UNIFORM", "ab:LINEAR", "ba:UNIFORM", "ba:LINEAR", "ac:UNIFORM"]);
    const whole = await enumerateCandidatesAsync(space, 1000, async (r) => keyOf(r));
    expect(whole).toEqual(enumerateCandidates(space, 1000, keyOf));
    expect(whole.truncated).toBe(false);
  });

  it("weights below 12 significant digits and zero-weight pairs do not make a new candidate", () => {
    const m = (w: number): TensorMix[] => [{ name: "x", parts: [{ modelId: "a", weight: w }, { modelId: "b", weight: 1 - w }] }];
    expect(candidateKey("S", "", m(0.3))).toBe(candidateKey("S", "", [{ name: "x", parts: [{ modelId: "b", weight: 0.7 + 1e-16 }, { modelId: "a", weight: 0.3 }] }]));
    expect(candidateKey("S", "", m(0.3))).not.toBe(candidateKey("S", "", m(0.31)));
    expect(candidateKey("S", "", m(1))).toBe(candidateKey("S", "", [{ name: "x", parts: [{ modelId: "a", weight: 1 }] }]));
    expect(candidateKey("S", "", m(0.5))).not.toBe(candidateKey("S", "TIES density=0.5", m(0.5)));
    expect([...combinations([1, 2, 3, 4], 2)]).toEqual([[1, 2], [1, 3], [1, 4], [2, 3], [2, 4], [3, 4]]);
  });
});

describe("CMA-ES", () => {
  it("has population 4 + ⌊3 ln n⌋", () => {
    expect([1, 2, 5, 10, 20].map(cmaPopulationSize)).toEqual([4, 6, 8, 10, 12]);
  });

  const run = (seed: bigint, generations: number) => {
    const target = [0.3, 0.7, 0.5, 0.1, 0.9];
    const es = new CmaEs([0.5, 0.5, 0.5, 0.5, 0.5], { seed });
    const trace: number[] = [];
    for (let g = 0; g < generations; g++) {
      const points = es.ask();
      const fitness = points.map((p) => -clipUnit(p).reduce((a, v, i) => a + (v - target[i]) ** 2, 0));
      trace.push(...fitness);
      es.tell(points, fitness);
    }
    return { es, trace, target };
  };

  it("finds the maximum of a quadratic inside [0, 1]⁵, and a seed reproduces the run", () => {
    const { es, trace, target } = run(7n, 80);
    expect(es.lambda).toBe(8);
    es.mean.forEach((m, i) => expect(Math.abs(m - target[i])).toBeLessThan(1e-3));
    expect(run(7n, 10).trace).toEqual(trace.slice(0, 80));
    expect(run(8n, 10).trace).not.toEqual(trace.slice(0, 80));
  });

  it("decomposes a symmetric matrix (Jacobi): A = V·diag(λ)·Vᵀ", () => {
    const A = [4, 1, 0.5, 1, 3, 0.2, 0.5, 0.2, 1];
    const { values, vectors } = symmetricEigen(A, 3);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < 3; k++) s += vectors[i * 3 + k] * values[k] * vectors[j * 3 + k];
        expect(s).toBeCloseTo(A[i * 3 + j], 12);
      }
  });
});
