import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { createModel, seedBasics } from "./support/fixtures";

interface Spec {
  name: string;
  architecture: string;
  udaStrategy: string;
  origin: "TRAINED" | "MERGED" | "IMPORTED";
  tags: string[];
  backbone: boolean;
  source: "gta" | "synthia";
}

// 12 models with attributes from fixed cycles, so each filter's answer is computed below from
// this list alone, independently of the service.
const specs: Spec[] = Array.from({ length: 12 }, (_, i) => ({
  name: `m${String(i).padStart(2, "0")}-${["daformer", "hrda", "dacs"][i % 3]}`,
  architecture: ["DAFormer", "HRDA", "DeepLabV2"][i % 3],
  udaStrategy: ["DAFormer", "HRDA", "DACS", "source-only"][i % 4],
  origin: (["TRAINED", "TRAINED", "MERGED", "IMPORTED"] as const)[i % 4],
  tags: [["seed0"], ["seed1"], ["seed0", "best"], []][i % 4],
  backbone: i % 2 === 0,
  source: i < 6 ? "gta" : "synthia",
}));

describe.each(databaseKinds)("models(where, orderBy, first, after) (%s)", (kind) => {
  let server: TestServer;
  const ids = new Map<string, string>();
  let basics: Awaited<ReturnType<typeof seedBasics>>;
  let synthiaId: string;

  beforeAll(async () => {
    server = await startTestServer(kind);
    basics = await seedBasics(server);
    const { createDataset } = await server.ok(
      `mutation($t: ID!) { createDataset(input: { name: "Synthia", taskId: $t, format: SEMANTIC_PNG, location: "/data/s", verify: false, classes: [{ id: 0, name: "road", isThing: false }] }) { id } }`,
      { t: basics.task.id },
    );
    synthiaId = createDataset.id;
    for (const s of specs) {
      const model = await createModel(server, {
        name: s.name,
        taskId: basics.task.id,
        architecture: s.architecture,
        udaStrategy: s.udaStrategy,
        origin: s.origin,
        tags: s.tags,
        backboneId: s.backbone ? basics.backbone.id : undefined,
        sourceDatasetId: s.source === "gta" ? basics.gta.id : synthiaId,
        targetDatasetId: basics.cityscapes.id,
      });
      ids.set(s.name, model.id);
    }
  });
  afterAll(() => server.stop());

  const names = async (where: unknown, extra = "") => {
    const { models } = await server.ok(`query($w: ModelWhere) { models(where: $w, first: 500 ${extra}) { totalCount edges { node { name } } } }`, { w: where });
    const list = models.edges.map((e: { node: { name: string } }) => e.node.name).sort();
    expect(models.totalCount).toBe(list.length);
    return list;
  };
  const expected = (pred: (s: Spec) => boolean) => specs.filter(pred).map((s) => s.name).sort();

  test("each filter field selects exactly the matching models", async () => {
    expect(await names({ architecture: "HRDA" })).toEqual(expected((s) => s.architecture === "HRDA"));
    expect(await names({ udaStrategy: "DACS" })).toEqual(expected((s) => s.udaStrategy === "DACS"));
    expect(await names({ origin: "MERGED" })).toEqual(expected((s) => s.origin === "MERGED"));
    expect(await names({ backboneId: basics.backbone.id })).toEqual(expected((s) => s.backbone));
    expect(await names({ sourceDatasetId: synthiaId })).toEqual(expected((s) => s.source === "synthia"));
    expect(await names({ datasetId: basics.gta.id })).toEqual(expected((s) => s.source === "gta"));
    expect(await names({ datasetId: basics.cityscapes.id })).toEqual(expected(() => true));
    expect(await names({ taskId: basics.task.id })).toEqual(expected(() => true));
    expect(await names({ tagsAll: ["seed0", "best"] })).toEqual(expected((s) => s.tags.includes("seed0") && s.tags.includes("best")));
    expect(await names({ tagsAny: ["seed1", "best"] })).toEqual(expected((s) => s.tags.includes("seed1") || s.tags.includes("best")));
    expect(await names({ nameContains: "HRDA" })).toEqual(expected((s) => s.name.includes("hrda")));
    expect(await names({ ids: [ids.get("m00-daformer"), ids.get("m05-dacs")] })).toEqual(["m00-daformer", "m05-dacs"]);
  });

  test("AND / OR / NOT compose", async () => {
    expect(await names({ OR: [{ architecture: "HRDA" }, { origin: "IMPORTED" }] })).toEqual(expected((s) => s.architecture === "HRDA" || s.origin === "IMPORTED"));
    expect(await names({ architecture: "DAFormer", NOT: { tagsAny: ["seed0"] } })).toEqual(expected((s) => s.architecture === "DAFormer" && !s.tags.includes("seed0")));
    expect(await names({ AND: [{ sourceDatasetId: synthiaId }, { OR: [{ udaStrategy: "DAFormer" }, { udaStrategy: "HRDA" }] }] })).toEqual(
      expected((s) => s.source === "synthia" && (s.udaStrategy === "DAFormer" || s.udaStrategy === "HRDA")),
    );
  });

  test("created range", async () => {
    const { models } = await server.ok(`{ models(first: 500, orderBy: { field: CREATED_AT, direction: ASC }) { edges { node { name createdAt } } } }`);
    const all = models.edges.map((e: { node: { name: string; createdAt: string } }) => e.node);
    const cut = all[6].createdAt;
    const after = await names({ createdAfter: cut });
    const before = await names({ createdBefore: cut });
    expect(after.length + before.length).toBe(12);
    expect(after).toEqual(all.filter((m: { createdAt: string }) => m.createdAt >= cut).map((m: { name: string }) => m.name).sort());
  });

  test("sorting by name pages with cursors without gaps or repeats, both directions", async () => {
    for (const direction of ["ASC", "DESC"]) {
      const seen: string[] = [];
      let after: string | null = null;
      let pages = 0;
      for (;;) {
        const { models }: any = await server.ok(
          `query($a: String, $d: SortDirection) { models(first: 5, after: $a, orderBy: { field: NAME, direction: $d }) { totalCount pageInfo { hasNextPage endCursor hasPreviousPage } edges { cursor node { name } } } }`,
          { a: after, d: direction },
        );
        expect(models.totalCount).toBe(12);
        expect(models.pageInfo.hasPreviousPage).toBe(after !== null);
        seen.push(...models.edges.map((e: { node: { name: string } }) => e.node.name));
        pages += 1;
        if (!models.pageInfo.hasNextPage) break;
        after = models.pageInfo.endCursor;
      }
      const sorted = specs.map((s) => s.name).sort();
      expect(seen).toEqual(direction === "ASC" ? sorted : sorted.reverse());
      expect(pages).toBe(3);
    }
  });

  test("default order is newest first and pages cover everything once", async () => {
    const first = await server.ok(`{ models(first: 7) { edges { node { name createdAt } } pageInfo { endCursor hasNextPage } } }`);
    const second = await server.ok(`query($a: String) { models(first: 7, after: $a) { edges { node { name createdAt } } pageInfo { hasNextPage } } }`, { a: first.models.pageInfo.endCursor });
    const all = [...first.models.edges, ...second.models.edges].map((e: { node: { name: string; createdAt: string } }) => e.node);
    expect(all.map((m) => m.name).sort()).toEqual(specs.map((s) => s.name).sort());
    for (let i = 1; i < all.length; i++) expect(all[i - 1].createdAt >= all[i].createdAt).toBe(true);
    expect(second.models.pageInfo.hasNextPage).toBe(false);
  });

  test("page size is capped and bad cursors are refused", async () => {
    const tooMany = await server.gql(`{ models(first: 501) { totalCount } }`);
    expect(tooMany.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "first" });
    expect(tooMany.errors?.[0].message).toMatch(/at most 500/);
    const negative = await server.gql(`{ models(first: -1) { totalCount } }`);
    expect(negative.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    const badCursor = await server.gql(`{ models(after: "not-a-cursor") { totalCount } }`);
    expect(badCursor.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "after" });
    const defaultPage = await server.ok(`{ models { edges { cursor } } }`);
    expect(defaultPage.models.edges).toHaveLength(12);
    const badEnum = await server.gql(`{ models(where: { origin: BOUGHT }) { totalCount } }`);
    expect(badEnum.errors?.[0].extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
  });

  test("datasets connection filters and sorts too", async () => {
    const { datasets } = await server.ok(`{ datasets(orderBy: { field: NAME }) { totalCount edges { node { name split } } } }`);
    expect(datasets.edges.map((e: { node: { name: string } }) => e.node.name)).toEqual(["Cityscapes", "GTA5", "Synthia"]);
    const filtered = await server.ok(`{ datasets(where: { OR: [{ domain: "GTA5" }, { nameContains: "synth" }] }, orderBy: { field: NAME, direction: DESC }) { totalCount edges { node { name } } } }`);
    expect(filtered.datasets.edges.map((e: { node: { name: string } }) => e.node.name)).toEqual(["Synthia", "GTA5"]);
    expect(filtered.datasets.totalCount).toBe(2);
    const paged = await server.ok(`{ datasets(first: 1, orderBy: { field: NAME }) { pageInfo { hasNextPage } edges { node { name } } } }`);
    expect(paged.datasets.pageInfo.hasNextPage).toBe(true);
  });
});
