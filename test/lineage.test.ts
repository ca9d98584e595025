import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { createModel, seedBasics } from "./support/fixtures";

/*
 * The family used below (edges point parent → child):
 *
 *   a ──FINETUNED_FROM──> b ──CHECKPOINT_OF──> c ──MERGED_FROM──> m
 *                                         d ──MERGED_FROM──────> m ──EXPORTED_FROM──> e
 */
describe.each(databaseKinds)("lineage (%s)", (kind) => {
  let server: TestServer;
  const id: Record<string, string> = {};
  const edge = (p: string, c: string, relation: string, weight?: number) =>
    server.gql(`mutation($i: AddLineageEdgeInput!) { addLineageEdge(input: $i) { id relation weight parent { name } child { name } } }`, {
      i: { parentId: id[p], childId: id[c], relation, weight },
    });

  beforeAll(async () => {
    server = await startTestServer(kind);
    const { task } = await seedBasics(server);
    for (const name of ["a", "b", "c", "d", "m", "e", "loner"]) id[name] = (await createModel(server, { name, taskId: task.id })).id;
    for (const [p, c, r, w] of [
      ["a", "b", "FINETUNED_FROM"],
      ["b", "c", "CHECKPOINT_OF"],
      ["c", "m", "MERGED_FROM", 0.6],
      ["d", "m", "MERGED_FROM", 0.4],
      ["m", "e", "EXPORTED_FROM"],
    ] as const) {
      const result = await edge(p, c, r, w);
      expect(result.errors).toBeUndefined();
    }
  });
  afterAll(() => server.stop());

  const lineage = async (name: string, args: string) => {
    const { lineage } = await server.ok(`query($id: ID!) { lineage(modelId: $id ${args}) { nodes { name } edges { relation weight parent { name } child { name } } } }`, { id: id[name] });
    return {
      nodes: lineage.nodes.map((n: { name: string }) => n.name).sort(),
      edges: lineage.edges.map((e: { parent: { name: string }; child: { name: string } }) => `${e.parent.name}>${e.child.name}`).sort(),
    };
  };

  test("ancestors, descendants and both, bounded by depth", async () => {
    expect(await lineage("m", "direction: ANCESTORS, depth: 1")).toEqual({ nodes: ["c", "d", "m"], edges: ["c>m", "d>m"] });
    expect(await lineage("m", "direction: ANCESTORS, depth: 10")).toEqual({ nodes: ["a", "b", "c", "d", "m"], edges: ["a>b", "b>c", "c>m", "d>m"] });
    expect(await lineage("a", "direction: DESCENDANTS, depth: 2")).toEqual({ nodes: ["a", "b", "c"], edges: ["a>b", "b>c"] });
    expect(await lineage("c", "direction: BOTH, depth: 1")).toEqual({ nodes: ["b", "c", "m"], edges: ["b>c", "c>m"] });
    // BOTH from c: ancestors b, a; descendants m, e — d is m's other parent, not c's relative.
    expect(await lineage("c", "depth: 5")).toEqual({ nodes: ["a", "b", "c", "e", "m"], edges: ["a>b", "b>c", "c>m", "m>e"] });
    expect(await lineage("loner", "")).toEqual({ nodes: ["loner"], edges: [] });
    expect(await lineage("m", "depth: 0")).toEqual({ nodes: ["m"], edges: [] });
  });

  test("the relation filter restricts the walk", async () => {
    expect(await lineage("m", "direction: ANCESTORS, depth: 10, relations: [MERGED_FROM]")).toEqual({ nodes: ["c", "d", "m"], edges: ["c>m", "d>m"] });
    expect(await lineage("e", "direction: ANCESTORS, depth: 10, relations: [MERGED_FROM]")).toEqual({ nodes: ["e"], edges: [] });
    expect(await lineage("e", "direction: ANCESTORS, depth: 10, relations: [EXPORTED_FROM, MERGED_FROM, CHECKPOINT_OF]")).toEqual({
      nodes: ["b", "c", "d", "e", "m"],
      edges: ["b>c", "c>m", "d>m", "m>e"],
    });
  });

  test("cycles and self-edges are refused; duplicates conflict", async () => {
    const cycle = await edge("e", "a", "FINETUNED_FROM");
    expect(cycle.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.parentId" });
    expect(cycle.errors?.[0].message).toMatch(/cycle/);
    const shortCycle = await edge("b", "a", "CHECKPOINT_OF");
    expect(shortCycle.errors?.[0].message).toMatch(/cycle/);
    const self = await edge("a", "a", "FINETUNED_FROM");
    expect(self.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    const dup = await edge("a", "b", "FINETUNED_FROM");
    expect(dup.errors?.[0].extensions?.code).toBe("CONFLICT");
    const unknown = await server.gql(`mutation($c: ID!) { addLineageEdge(input: { parentId: "nope", childId: $c, relation: MERGED_FROM }) { id } }`, { c: id.a });
    expect(unknown.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.parentId" });
    // A diamond is not a cycle.
    expect((await edge("a", "d", "FINETUNED_FROM")).errors).toBeUndefined();
  });

  test("Model.parents / children / parentEdges with weights", async () => {
    const { model } = await server.ok(`query($id: ID!) { model(id: $id) { parents { name } children { name } parentEdges { relation weight parent { name } } } }`, { id: id.m });
    expect(model.parents.map((p: { name: string }) => p.name).sort()).toEqual(["c", "d"]);
    expect(model.children.map((p: { name: string }) => p.name)).toEqual(["e"]);
    expect(model.parentEdges.map((e: { parent: { name: string }; weight: number }) => [e.parent.name, e.weight]).sort()).toEqual([["c", 0.6], ["d", 0.4]]);
  });

  test("bad lineage arguments", async () => {
    const deep = await server.gql(`query($id: ID!) { lineage(modelId: $id, depth: 51) { nodes { id } } }`, { id: id.a });
    expect(deep.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "depth" });
    const missing = await server.gql(`{ lineage(modelId: "missing") { nodes { id } } }`);
    expect(missing.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "modelId" });
  });
});
