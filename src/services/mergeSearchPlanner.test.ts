import { candidateKey } from "../core/search";
import { candidateKeys, type CandidateRecipe } from "./mergeSearchPlanner";
import type { MergeService } from "./mergeService";
import type { StructureCatalog } from "./structureCatalog";

/*
 * candidateKeys plans a merge once per structure tuple and renames the plan's inputs to each
 * recipe's models. The fake planner gives the anchor 0.6 and the contributor 0.4 on "bb" and
 * keeps the anchor's "head"; the expected keys are written out from that rule here.
 */
describe("candidate keys", () => {
  const structureOf: Record<string, string> = { a: "S", b: "S", c: "S", t: "T" };
  const catalog = { planModel: async (id: string) => ({ tensors: [{ name: "bb" }, { name: id === "S" ? "head" : "head2" }] }) } as unknown as StructureCatalog;
  const calls: string[] = [];
  const fakePlan = (req: { anchorId: string; modelIds: string[] }) => ({
    method: "LAYERWISE",
    params: {},
    tensors: [
      { tensor: { name: "bb" }, action: "merge", inputs: [{ model: 0, weight: 0.6 }, { model: 1, weight: 0.4 }] },
      { tensor: { name: structureOf[req.anchorId] === "S" ? "head" : "head2" }, action: "copy", inputs: [] },
    ],
  });
  // planFor for the models it was given, plan (which reads the models itself) for any other
  const merges: Pick<MergeService, "plan" | "planFor"> = {
    plan: (async (req: { anchorId: string; modelIds: string[] }) => {
      calls.push(`read:${[req.anchorId, ...req.modelIds].join("")}`);
      return { plan: fakePlan(req), inputs: {} };
    }) as unknown as MergeService["plan"],
    planFor: (async (req: { anchorId: string; modelIds: string[] }, inputs: { anchor: { name: string }; contributors: Array<{ name: string }> }) => {
      calls.push([inputs.anchor.name, ...inputs.contributors.map((c) => c.name)].join(""));
      return fakePlan(req);
    }) as unknown as MergeService["planFor"],
  };
  const pool = (ids: string[]) => ids.map((id) => ({ id, structureId: structureOf[id], name: id, version: "1" }));
  const recipe = (anchorId: string, other: string): CandidateRecipe => ({ anchorId, modelIds: [other], method: "LAYERWISE", schedule: { kind: "UNIFORM" }, weights: null, params: null, baseModelId: null });
  const expected = (anchor: string, other: string) =>
    candidateKey(structureOf[anchor], "", [
      { name: "bb", parts: [{ modelId: anchor, weight: 0.6 }, { modelId: other, weight: 0.4 }] },
      { name: structureOf[anchor] === "S" ? "head" : "head2", parts: [{ modelId: anchor, weight: 1 }] },
    ]);

  it("plans once per structure tuple and keys each recipe with its own models", async () => {
    const keyOf = await candidateKeys(catalog, merges, pool(Object.keys(structureOf)));
    expect(await keyOf(recipe("a", "b"))).toBe(expected("a", "b"));
    expect(await keyOf(recipe("b", "c"))).toBe(expected("b", "c"));
    expect(await keyOf(recipe("c", "a"))).toBe(expected("c", "a"));
    expect(calls).toEqual(["ab"]);
    expect(await keyOf(recipe("a", "t"))).toBe(expected("a", "t"));
    expect(await keyOf(recipe("t", "a"))).toBe(expected("t", "a"));
    expect(calls).toEqual(["ab", "at", "ta"]);
    expect(expected("a", "b")).not.toBe(expected("b", "c"));
    // another schedule is another plan
    await keyOf({ ...recipe("a", "b"), schedule: { kind: "LINEAR" } });
    expect(calls).toEqual(["ab", "at", "ta", "ab"]);
  });

  it("reads the models itself (mergePlan's way) for a recipe naming a model it was not given", async () => {
    calls.length = 0;
    const keyOf = await candidateKeys(catalog, merges, pool(["a", "b"]));
    expect(await keyOf(recipe("a", "b"))).toBe(expected("a", "b"));
    expect(await keyOf(recipe("a", "c"))).toBe(expected("a", "c"));
    expect(calls).toEqual(["ab", "read:ac"]);
  });

  it("singles keep their key (a model's own tensors at weight 1)", async () => {
    const keyOf = await candidateKeys(catalog, merges, pool(["a", "t"]));
    const single = (id: string): CandidateRecipe => ({ anchorId: id, modelIds: [], method: null, schedule: null, weights: null, params: null, baseModelId: null });
    expect(await keyOf(single("a"))).toBe(candidateKey("S", "", [{ name: "bb", parts: [{ modelId: "a", weight: 1 }] }, { name: "head", parts: [{ modelId: "a", weight: 1 }] }]));
    expect(await keyOf(single("t"))).toBe(candidateKey("T", "", [{ name: "bb", parts: [{ modelId: "t", weight: 1 }] }, { name: "head2", parts: [{ modelId: "t", weight: 1 }] }]));
  });

  it("gives the event loop turns while it keys a large plan", async () => {
    // 400 tensors a plan, 3,000 recipes: far more keying than one turn of the loop should hold.
    const wide = { planModel: async () => ({ tensors: Array.from({ length: 400 }, (_, i) => ({ name: `t${i}` })) }) } as unknown as StructureCatalog;
    const widePlan = { method: "LAYERWISE", params: {}, tensors: Array.from({ length: 400 }, (_, i) => ({ tensor: { name: `t${i}` }, action: "merge", inputs: [{ model: 0, weight: 0.5 + i / 1000 }, { model: 1, weight: 0.5 - i / 1000 }] })) };
    const wideMerges = { plan: (async () => ({ plan: widePlan, inputs: {} })) as unknown as MergeService["plan"], planFor: (async () => widePlan) as unknown as MergeService["planFor"] };
    const ids = Array.from({ length: 60 }, (_, i) => `m${i}`);
    const keyOf = await candidateKeys(wide, wideMerges, ids.map((id) => ({ id, structureId: "W", name: id, version: "1" })));
    let turns = 0;
    let keyed = 0;
    const tick = () => setImmediate(() => {
      turns++;
      if (keyed < 3000) tick();
    });
    tick();
    for (const a of ids) for (const b of ids) if (a !== b && keyed < 3000) {
      await keyOf(recipe(a, b));
      keyed++;
    }
    expect(keyed).toBe(3000);
    expect(turns).toBeGreaterThan(1);
  });
});
