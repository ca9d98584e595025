import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { createModel, seedBasics } from "./support/fixtures";
import { ensureBuilt, startLayermerge } from "./support/processes";

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

  test("concurrent edges that together would close a cycle, sent to two processes: one of them is refused, every time", async () => {
    // A second server process on the same database: the race is between processes (on SQLite,
    // two connections to one file), not only between requests of one process.
    ensureBuilt();
    const other = startLayermerge(["serve"], { DATABASE_URL: server.db.url, LAYERMERGE_DATA_DIR: server.db.dataDir, PORT: "0", HOST: "127.0.0.1", REDIS_URL: "" });
    try {
      const otherUrl = (await other.waitFor(/serving GraphQL at (http:\/\/\S+)/))[1];
      const task = (await server.ok(`{ tasks { id } }`)).tasks[0];
      const add = async (url: string, parentId: string, childId: string) => {
        const res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ query: `mutation($i: AddLineageEdgeInput!) { addLineageEdge(input: $i) { id } }`, variables: { i: { parentId, childId, relation: "FINETUNED_FROM" } } }),
        });
        return (await res.json()) as { data?: unknown; errors?: Array<{ message: string; extensions?: { code?: string } }> };
      };
      // Pairs race x → y (here) against y → x (there); triangles race u → v, v → w and w → u
      // across both. Each group stays acyclic only if exactly one of its edges is refused.
      // Several rounds, since a race is a matter of timing.
      const pairs = 40;
      const triangles = 20;
      for (let round = 0; round < 3; round++) {
        const groups = [
          ...Array.from({ length: pairs }, (_, i) => [`r${round}-x${i}`, `r${round}-y${i}`]),
          ...Array.from({ length: triangles }, (_, i) => [`r${round}-u${i}`, `r${round}-v${i}`, `r${round}-w${i}`]),
        ];
        const names = groups.flat();
        const made: Record<string, string> = {};
        for (let i = 0; i < names.length; i += 20) {
          await Promise.all(names.slice(i, i + 20).map(async (name) => (made[name] = (await createModel(server, { name, taskId: task.id })).id)));
        }
        const results = await Promise.all(
          groups.map((group) => Promise.all(group.map((p, k) => add(k % 2 ? otherUrl : server.url, made[p], made[group[(k + 1) % group.length]])))),
        );
        for (const [g, group] of results.entries()) {
          const refused = group.filter((r) => r.errors);
          // Exactly one edge of each group is refused, and for the cycle, not for anything else.
          expect({ round, group: g, refused: refused.length }).toEqual({ round, group: g, refused: 1 });
          expect(refused[0].errors?.[0]).toMatchObject({ message: expect.stringMatching(/cycle/), extensions: { code: "BAD_USER_INPUT" } });
        }
        // What is stored, read back model by model, holds no cycle (depth-first search with colours).
        const children = new Map<string, string[]>();
        for (const name of names) {
          const { model } = await server.ok(`query($id: ID!) { model(id: $id) { children { id } } }`, { id: made[name] });
          children.set(made[name], model.children.map((c: { id: string }) => c.id));
        }
        const colour = new Map<string, "grey" | "black">();
        const cyclic = (node: string): boolean => {
          if (colour.get(node) === "grey") return true;
          if (colour.get(node) === "black") return false;
          colour.set(node, "grey");
          const found = (children.get(node) ?? []).some(cyclic);
          colour.set(node, "black");
          return found;
        };
        expect(names.filter((name) => cyclic(made[name]))).toEqual([]);
        expect([...children.values()].flat()).toHaveLength(pairs + 2 * triangles);
      }
    } finally {
      await other.kill();
    }
  });

  test("bad lineage arguments", async () => {
    const deep = await server.gql(`query($id: ID!) { lineage(modelId: $id, depth: 51) { nodes { id } } }`, { id: id.a });
    expect(deep.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "depth" });
    const missing = await server.gql(`{ lineage(modelId: "missing") { nodes { id } } }`);
    expect(missing.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "modelId" });
  });
});
