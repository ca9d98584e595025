import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { seedBasics } from "./support/fixtures";
import { upload } from "./support/http";
import { writeSafetensors } from "../src/core/formats/safetensors/testing/writeSafetensors";
import { float32ToHalfBits, halfBitsToFloat } from "../src/core/formats/onnx/testing/float16";

/*
 * Merge candidates' similarity signals through GraphQL. The models are made here from values this
 * test draws (seeded), so the expected cosines are computed from those values in float64 by the
 * reference below, never from the code under test.
 */

const REGISTER = `mutation($i: RegisterModelInput!) { registerModel(input: $i) { id name } }`;
const EDGE = `mutation($i: AddLineageEdgeInput!) { addLineageEdge(input: $i) { id } }`;
const CANDIDATES = `query($a: ID!, $o: CandidateOrder) { mergeCandidates(anchorId: $a, orderBy: $o, first: 50) { totalCount edges { cursor node { model { id name } sharedFraction
  similarity { cosine ancestorDeltaCosine ancestor { name } comparedTensorCount comparedParameterCount groups { prefix tensorCount parameterCount cosine ancestorDeltaCosine } } } } } }`;

const SHAPES: Record<string, number[]> = {
  "backbone.stem.weight": [4, 3],
  "backbone.stem.bias": [4],
  "backbone.block.weight": [8, 4],
  "decode_head.cls.weight": [3, 8],
  "decode_head.cls.bias": [3],
};
const OTHER_HEAD: Record<string, number[]> = { ...SHAPES, "decode_head.cls.weight": [5, 8], "decode_head.cls.bias": [5] };

type Weights = Map<string, number[]>;

/** mulberry32: a small seeded generator, so every run draws the same weights. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Values as stored in F32 (rounded to float32), drawn uniformly in [-1, 1). */
function draw(seed: number, shapes = SHAPES): Weights {
  const next = random(seed);
  return new Map(Object.entries(shapes).map(([name, shape]) => [name, Array.from({ length: size(shape) }, () => Math.fround(next() * 2 - 1))]));
}

/** base + scale · noise, rounded to float32. */
function nudge(base: Weights, seed: number, scale: number): Weights {
  const next = random(seed);
  return new Map([...base].map(([name, v]) => [name, v.map((x) => Math.fround(x + scale * (next() * 2 - 1)))]));
}

/** The values an F16 file holds (each rounded to half precision). */
function asHalf(w: Weights): Weights {
  return new Map([...w].map(([name, v]) => [name, v.map((x) => halfBitsToFloat(float32ToHalfBits(x)))]));
}

function file(w: Weights, shapes: Record<string, number[]>, dtype: "F32" | "F16" = "F32"): Uint8Array {
  return writeSafetensors(
    Object.entries(shapes).map(([name, shape]) => {
      const v = w.get(name)!;
      const data = dtype === "F32" ? new Uint8Array(new Float32Array(v).buffer) : new Uint8Array(new Uint16Array(v.map(float32ToHalfBits)).buffer);
      return { name, dtype, shape, data };
    }),
  );
}

/** The reference: float64 cosine of the concatenation of `names` (optionally of differences from c). */
function cosine(a: Weights, b: Weights, names: string[], c?: Weights): number {
  let dot = 0;
  let aa = 0;
  let bb = 0;
  for (const name of names) {
    const x = a.get(name)!;
    const y = b.get(name)!;
    const z = c?.get(name);
    for (let i = 0; i < x.length; i++) {
      const p = z ? x[i] - z[i] : x[i];
      const q = z ? y[i] - z[i] : y[i];
      dot += p * q;
      aa += p * p;
      bb += q * q;
    }
  }
  return dot / Math.sqrt(aa * bb);
}

function expectClose(actual: number | null, expected: number) {
  expect(actual).not.toBeNull();
  expect(Math.abs(actual! - expected)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(expected)));
}

describe.each(databaseKinds)("merge candidates' similarity (%s)", (kind) => {
  let server: TestServer;
  let taskId: string;
  const ids: Record<string, string> = {};
  const weights: Record<string, Weights> = {};
  const ALL = Object.keys(SHAPES);
  const BACKBONE = ALL.filter((n) => n.startsWith("backbone."));
  let groupOf: Map<string, string>;

  const register = async (name: string, w: Weights, shapes = SHAPES, dtype: "F32" | "F16" = "F32") => {
    weights[name] = dtype === "F16" ? asHalf(w) : w;
    const { body } = await upload(server.origin, file(w, shapes, dtype));
    const { registerModel } = await server.ok(REGISTER, { i: { name, taskId, artifactSha256: body.sha256 } });
    ids[name] = registerModel.id;
  };
  const edge = (parent: string, child: string, relation: string) => server.ok(EDGE, { i: { parentId: ids[parent], childId: ids[child], relation } });
  const candidates = async (order?: string, anchor = "P") => (await server.ok(CANDIDATES, { a: ids[anchor], o: order ?? null })).mergeCandidates;
  const byName = (connection: any) => new Map<string, any>(connection.edges.map((e: any) => [e.node.model.name, e.node]));
  /** Asks again until every listed candidate has its similarity. */
  const settled = async (order?: string, anchor = "P") => {
    const until = Date.now() + 60_000;
    for (;;) {
      const c = await candidates(order, anchor);
      if (c.edges.every((e: any) => e.node.similarity !== null)) return c;
      if (Date.now() > until) throw new Error("similarities were not computed within a minute");
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  beforeAll(async () => {
    server = await startTestServer(kind);
    taskId = (await seedBasics(server)).task.id;
    const R = draw(1);
    await register("R", R);
    await register("P", nudge(R, 2, 0.1));
    await register("Q", nudge(R, 3, 0.1));
    const G = nudge(R, 4, 0.2);
    await register("G", G);
    await register("H", nudge(G, 5, 0.05));
    await register("H2", nudge(G, 9, 0.05));
    // Stored in half precision: decoded exactly, and shared with the F32 models (converted).
    await register("Q16", nudge(R, 6, 0.1), SHAPES, "F16");
    // Another head: only the backbone is shared.
    await register("Z", draw(7, OTHER_HEAD), OTHER_HEAD);
    await edge("R", "P", "FINETUNED_FROM");
    await edge("R", "Q", "FINETUNED_FROM");
    await edge("R", "G", "FINETUNED_FROM");
    await edge("G", "H", "MERGED_FROM");
    await edge("G", "H2", "FINETUNED_FROM");
    await edge("R", "Q16", "FINETUNED_FROM");
    const { model } = await server.ok(`query($id: ID!) { model(id: $id) { structure { tensors(first: 100) { edges { node { name group } } } } } }`, { id: ids.P });
    groupOf = new Map(model.structure.tensors.edges.map((e: any) => [e.node.name, e.node.group]));
  });
  afterAll(() => server.stop());

  test("the first request answers null and queues the work; later requests return float64 cosines equal to an independent computation", async () => {
    const first = await candidates();
    expect(first.totalCount).toBe(7);
    expect(first.edges.every((e: any) => e.node.similarity === null)).toBe(true);

    const nodes = byName(await settled());
    const P = weights.P;
    for (const name of ["R", "Q", "G", "H", "H2", "Q16"]) {
      const s = nodes.get(name).similarity;
      expectClose(s.cosine, cosine(P, weights[name], ALL));
      expect(s.comparedTensorCount).toBe(5);
      expect(s.comparedParameterCount).toBe(12 + 4 + 32 + 24 + 3);
      const prefixes = [...new Set(ALL.map((n) => groupOf.get(n)!))];
      expect(s.groups.map((g: any) => g.prefix)).toEqual(prefixes);
      for (const g of s.groups) {
        const members = ALL.filter((n) => groupOf.get(n) === g.prefix);
        expect(g.tensorCount).toBe(members.length);
        expect(g.parameterCount).toBe(members.reduce((t, n) => t + size(SHAPES[n]), 0));
        expectClose(g.cosine, cosine(P, weights[name], members));
      }
    }
    const z = nodes.get("Z").similarity;
    expect(z.comparedTensorCount).toBe(BACKBONE.length);
    expectClose(z.cosine, cosine(P, weights.Z, BACKBONE));
    expect(z.ancestor).toBeNull();
    expect(z.ancestorDeltaCosine).toBeNull();
  });

  test("deltas are taken from the nearest common ancestor with weights, over fine-tuning and merge edges, fp16 included", async () => {
    const nodes = byName(await settled());
    const { P, R } = weights;
    // P and Q, G and Q16 are R's children; H is R's grandchild through G (FINETUNED_FROM, then MERGED_FROM).
    for (const name of ["Q", "G", "H", "H2", "Q16"]) {
      const s = nodes.get(name).similarity;
      expect(s.ancestor).toEqual({ name: "R" });
      expectClose(s.ancestorDeltaCosine, cosine(P, weights[name], ALL, R));
      for (const g of s.groups) expectClose(g.ancestorDeltaCosine, cosine(P, weights[name], ALL.filter((n) => groupOf.get(n) === g.prefix), R));
    }
    // H and H2 have two common ancestors, G (a hop from each) and R (two hops): G is the nearest.
    const h2 = byName(await settled(undefined, "H")).get("H2").similarity;
    expect(h2.ancestor).toEqual({ name: "G" });
    expectClose(h2.ancestorDeltaCosine, cosine(weights.H, weights.H2, ALL, weights.G));
    // R is P's parent, not a common ancestor of the two: no delta.
    expect(nodes.get("R").similarity.ancestor).toBeNull();
    expect(nodes.get("R").similarity.ancestorDeltaCosine).toBeNull();
    // Near-copies of R whose differences are independent noise: far less alike than the weights.
    expect(Math.abs(nodes.get("Q").similarity.ancestorDeltaCosine)).toBeLessThan(nodes.get("Q").similarity.cosine);
  });

  test("stored values are reused, and a lineage change makes the pair's ancestor, and so its key, change", async () => {
    await settled();
    const rows = await server.app.services.database.prisma.pairSimilarity.count();
    const again = await candidates();
    expect(again.edges.every((e: any) => e.node.similarity !== null)).toBe(true);
    expect(await server.app.services.database.prisma.pairSimilarity.count()).toBe(rows);

    const { lineage } = await server.ok(`query($id: ID!) { lineage(modelId: $id, direction: ANCESTORS, depth: 1) { edges { id parent { name } } } }`, { id: ids.Q });
    await server.ok(`mutation($id: ID!) { removeLineageEdge(id: $id) { id } }`, { id: lineage.edges[0].id });
    expect(byName(await candidates()).get("Q").similarity).toBeNull();
    const q = byName(await settled()).get("Q").similarity;
    expect(q.ancestor).toBeNull();
    expect(q.ancestorDeltaCosine).toBeNull();
    expectClose(q.cosine, cosine(weights.P, weights.Q, ALL));
    await edge("R", "Q", "FINETUNED_FROM");
    // Back to the first key: its row is still there, so no new computation.
    expect(byName(await candidates()).get("Q").similarity.ancestor).toEqual({ name: "R" });
  });

  test("orderBy SIMILARITY ranks by cosine, highest first, with pending pairs last; its cursors page through the same order", async () => {
    const settledOrder = await settled("SIMILARITY");
    const expected = ["R", "Q", "G", "H", "H2", "Q16", "Z"]
      .map((name) => ({ name, c: name === "Z" ? cosine(weights.P, weights.Z, BACKBONE) : cosine(weights.P, weights[name], ALL) }))
      .sort((a, b) => b.c - a.c)
      .map((x) => x.name);
    expect(settledOrder.edges.map((e: any) => e.node.model.name)).toEqual(expected);

    // A new candidate (with the highest shared fraction, as the others) is pending: listed last.
    await register("N", nudge(weights.P, 8, 0.01));
    const withNew = await candidates("SIMILARITY");
    expect(withNew.edges.map((e: any) => e.node.model.name)).toEqual([...expected, "N"]);
    expect(withNew.edges[7].node.similarity).toBeNull();
    // Once computed, N (a near-copy of P) comes first.
    const done = await settled("SIMILARITY");
    expect(done.edges[0].node.model.name).toBe("N");
    expectClose(done.edges[0].node.similarity.cosine, cosine(weights.P, weights.N, ALL));

    const page1 = (await server.ok(`query($a: ID!) { mergeCandidates(anchorId: $a, orderBy: SIMILARITY, first: 3) { pageInfo { hasNextPage endCursor } edges { node { model { name } } } } }`, { a: ids.P })).mergeCandidates;
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const page2 = (await server.ok(`query($a: ID!, $c: String) { mergeCandidates(anchorId: $a, orderBy: SIMILARITY, first: 10, after: $c) { pageInfo { hasNextPage } edges { node { model { name } } } } }`, { a: ids.P, c: page1.pageInfo.endCursor })).mergeCandidates;
    expect([...page1.edges, ...page2.edges].map((e: any) => e.node.model.name)).toEqual(done.edges.map((e: any) => e.node.model.name));
    expect(page2.pageInfo.hasNextPage).toBe(false);
    // A fraction-order cursor is not one of this order.
    const fractionCursor = (await candidates()).edges[0].cursor;
    const refused = await server.gql(`query($a: ID!, $c: String) { mergeCandidates(anchorId: $a, orderBy: SIMILARITY, after: $c) { totalCount } }`, { a: ids.P, c: fractionCursor });
    expect(refused.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
  });
});
