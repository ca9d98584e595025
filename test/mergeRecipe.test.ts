import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { main } from "../src/cli/main";
import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { seedBasics } from "./support/fixtures";
import { upload } from "./support/http";
import { waitForJob, JOB_FIELDS } from "./support/jobs";
import { buildSegNet } from "../src/core/formats/onnx/testing/buildSegNet";

const START = `mutation($i: StartMergeInput!) { startMerge(input: $i) { ${JOB_FIELDS} } }`;
const FROM_RECIPE = `mutation($y: String!, $r: [ModelRefInput!]) { startMergeFromRecipe(recipeYaml: $y, modelRefs: $r) { ${JOB_FIELDS} } }`;
const MERGE = `query($id: ID!) { job(id: $id) { merge { id recipeHash recipeYaml method schedule { kind cutoff knots } params } } }`;

describe.each(databaseKinds)("merge recipes as mergekit configs through GraphQL (%s)", (kind) => {
  let server: TestServer;
  let taskId: string;
  const ids: Record<string, string> = {};

  const merge = async (input: Record<string, unknown>) => {
    const job = await waitForJob(server, (await server.ok(START, { i: input })).startMerge.id);
    expect(job.status).toBe("SUCCEEDED");
    return (await server.ok(MERGE, { id: job.id })).job.merge;
  };
  const fromRecipe = async (recipeYaml: string, modelRefs?: unknown) => {
    const job = await waitForJob(server, (await server.ok(FROM_RECIPE, { y: recipeYaml, r: modelRefs ?? null })).startMergeFromRecipe.id);
    return { job, merge: job.merge ? (await server.ok(MERGE, { id: job.id })).job.merge : null };
  };

  beforeAll(async () => {
    server = await startTestServer(kind);
    taskId = (await seedBasics(server)).task.id;
    for (const [name, seed] of [["a1", 1], ["a2", 2], ["a3", 3], ["base", 10]] as const) {
      const { body } = await upload(server.origin, buildSegNet({ seed }).bytes);
      ids[name] = (await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name, taskId, artifactSha256: body.sha256 } })).registerModel.id;
    }
  });
  afterAll(() => server.stop());

  test("a recipe with relative weights and a LINEAR schedule is written as per-layer weight lists, and running it again returns the same merge", async () => {
    const m = await merge({ anchorId: ids.a1, modelIds: [ids.a2, ids.a3], weights: [3, 1] });
    const config = parse(m.recipeYaml);
    // The segmentation net has L = 4 layers: t = l/3, w_a = 1/3 + (2/3)·t; the rest split 3 : 1.
    const wa = [0, 1, 2, 3].map((l) => 1 / 3 + (2 / 3) * (l / 3));
    const expected = [wa, wa.map((w) => ((1 - w) * 3) / 4), wa.map((w) => (1 - w) / 4)];
    expect(config.merge_method).toBe("linear");
    expect(config.models.map((x: { model: string }) => x.model)).toEqual(["a1@1", "a2@1", "a3@1"]);
    config.models.forEach((x: { parameters: { weight: number[] } }, k: number) => {
      expect(x.parameters.weight).toHaveLength(4);
      x.parameters.weight.forEach((w, l) => expect(w).toBeCloseTo(expected[k][l], 14));
    });
    expect(config.layermerge).toEqual({ anchor: "a1@1", schedule: { kind: "LINEAR" }, relative_weights: [3, 1], layers: 4, layer_order: "GRAPH" });

    const again = await fromRecipe(m.recipeYaml);
    expect(again.job.status).toBe("SUCCEEDED");
    expect(again.job.message).toMatch(/identical merge already exists/);
    expect(again.merge).toMatchObject({ id: m.id, recipeHash: m.recipeHash });
  });

  test("each method round-trips to the same merge (same recipe hash)", async () => {
    const inputs = [
      { anchorId: ids.a2, modelIds: [ids.a1], method: "TASK_ARITHMETIC", baseModelId: ids.base, params: { lambda: 0.7 }, schedule: { kind: "UNIFORM" } },
      { anchorId: ids.a1, modelIds: [ids.a3], method: "TIES", baseModelId: ids.base, params: { density: 0.4 }, schedule: { kind: "STEP", cutoff: 0.4 } },
      { anchorId: ids.a3, modelIds: [ids.a1, ids.a2], method: "DARE", baseModelId: ids.base, params: { dropRate: 0.3, seed: 11 }, schedule: { kind: "CUSTOM", knots: [0, 0.2, 0.9] } },
    ];
    for (const input of inputs) {
      const m = await merge(input);
      const config = parse(m.recipeYaml);
      expect(config.base_model).toBe("base@1");
      const again = await fromRecipe(m.recipeYaml);
      expect({ method: input.method, merge: again.merge?.id, hash: again.merge?.recipeHash }).toEqual({ method: input.method, merge: m.id, hash: m.recipeHash });
    }
  });

  test("SLERP and MODEL_STOCK are written as mergekit's slerp and model_stock and round-trip to the same merge", async () => {
    const slerp = await merge({ anchorId: ids.a1, modelIds: [ids.a2], method: "SLERP", schedule: { kind: "LINEAR" } });
    // L = 4, N = 2, LINEAR: w_a = 1/2 + t/2 at t = l/3, so the contributor's t = (1 − l/3)/2.
    const t = [0, 1, 2, 3].map((l) => (1 - l / 3) / 2);
    const config = parse(slerp.recipeYaml);
    expect({ method: config.merge_method, base: config.base_model, models: config.models }).toEqual({ method: "slerp", base: "a1@1", models: [{ model: "a1@1" }, { model: "a2@1" }] });
    expect(config.parameters.t).toHaveLength(4);
    config.parameters.t.forEach((v: number, l: number) => expect(v).toBeCloseTo(t[l], 14));
    const slerpAgain = await fromRecipe(slerp.recipeYaml);
    expect({ merge: slerpAgain.merge?.id, hash: slerpAgain.merge?.recipeHash }).toEqual({ merge: slerp.id, hash: slerp.recipeHash });
    // A plain slerp config with the same t list is the same recipe read as CUSTOM knots s = 1 − 2t,
    // so it is a new merge with that schedule.
    const plain = await fromRecipe(`merge_method: slerp\nbase_model: a2@1\nmodels: [{ model: a2@1 }, { model: a3@1 }]\nparameters: { t: [0.5, 0.25, 0] }\n`);
    expect(plain.job.status).toBe("SUCCEEDED");
    expect(plain.merge).toMatchObject({ method: "SLERP", schedule: { kind: "CUSTOM", knots: [0, 0.5, 1] } });

    const stock = await merge({ anchorId: ids.a2, modelIds: [ids.a1, ids.a3], method: "MODEL_STOCK", baseModelId: ids.base });
    expect(stock.recipeYaml).toBe(`merge_method: model_stock
base_model: base@1
models:
  - model: a2@1
  - model: a1@1
  - model: a3@1
layermerge:
  anchor: a2@1
  schedule:
    kind: UNIFORM
  layers: 4
  layer_order: GRAPH
`);
    const stockAgain = await fromRecipe(stock.recipeYaml);
    expect({ merge: stockAgain.merge?.id, hash: stockAgain.merge?.recipeHash }).toEqual({ merge: stock.id, hash: stock.recipeHash });
  });

  test("models are resolved by modelRefs (id or name@version), by their own text as name@version or an id", async () => {
    const m = await merge({ anchorId: ids.a1, modelIds: [ids.a2], schedule: { kind: "COSINE" } });
    const keyed = m.recipeYaml.replaceAll("a1@1", "the-anchor").replaceAll("a2@1", "helper");
    const byRefs = await fromRecipe(keyed, [{ key: "the-anchor", id: ids.a1 }, { key: "helper", nameVersion: "a2@1" }]);
    expect(byRefs.merge?.id).toBe(m.id);
    const byId = await fromRecipe(m.recipeYaml.replaceAll("a2@1", ids.a2));
    expect(byId.merge?.id).toBe(m.id);

    // A plain mergekit config (no layermerge block) runs too: the first model is the anchor.
    const plain = await fromRecipe(`merge_method: linear\nmodels:\n  - model: a3@1\n    parameters: { weight: [0.5, 1] }\n  - model: a2@1\n    parameters: { weight: [0.5, 0] }\n`);
    expect(plain.job.status).toBe("SUCCEEDED");
    expect(plain.merge).toMatchObject({ method: "LAYERWISE", schedule: { kind: "CUSTOM", knots: [0, 1] } });
  });

  test("the CLI runs a recipe file, binding its models with --ref", async () => {
    const m = await merge({ anchorId: ids.a3, modelIds: [ids.a2], schedule: { kind: "STEP", cutoff: 0.7 } });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-recipe-"));
    const file = path.join(dir, "recipe.yaml");
    fs.writeFileSync(file, m.recipeYaml.replaceAll("a2@1", "helper"));
    const out: string[] = [];
    const spies = [
      jest.spyOn(console, "error").mockImplementation(() => undefined),
      jest.spyOn(console, "log").mockImplementation((...a) => void out.push(a.join(" "))),
      jest.spyOn(process.stderr, "write").mockImplementation(() => true),
    ];
    const saved = process.env.LAYERMERGE_URL;
    process.env.LAYERMERGE_URL = server.origin;
    try {
      expect(await main(["merge", "--recipe", file, "--ref", `helper=${ids.a2}`])).toBe(0);
    } finally {
      process.env.LAYERMERGE_URL = saved;
      spies.forEach((s) => s.mockRestore());
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const { model } = await server.ok(`query($id: ID!) { model(id: $id) { merge { id } } }`, { id: out.join("").trim() });
    expect(model.merge.id).toBe(m.id);
  });

  test("recipeYaml on a page of merged models is read through the batch loaders: as many queries for many merges as for one", async () => {
    const page = `query($first: Int) { models(first: $first, where: { origin: MERGED }, orderBy: { field: NAME }) { edges { node { merge { recipeYaml } } } } }`;
    const queries = async (first: number) => {
      const before = server.app.services.database.queryCount();
      const data = await server.ok(page, { first });
      return { count: server.app.services.database.queryCount() - before, yamls: data.models.edges.map((e: any) => e.node.merge.recipeYaml) };
    };
    // The count is the process's: a background query (the job runner's, a sweep's) may fall into
    // a window and only ever adds. The least of three windows is the request's own.
    const least = async (first: number) => {
      const runs = [await queries(first), await queries(first), await queries(first)];
      return { count: Math.min(...runs.map((r) => r.count)), yamls: runs[0].yamls };
    };
    const one = await least(1);
    const all = await least(50);
    expect(all.yamls.length).toBeGreaterThanOrEqual(5);
    all.yamls.forEach((y: string) => expect(y).toMatch(/^merge_method: /));
    expect(all.count).toBe(one.count);
  });

  test("bad YAML, an unknown method and an unresolvable model are refused with BAD_USER_INPUT naming them", async () => {
    const refused = async (recipeYaml: string, modelRefs?: unknown) => {
      const { errors } = await server.gql(FROM_RECIPE, { y: recipeYaml, r: modelRefs ?? null });
      expect(errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
      return errors![0];
    };
    expect((await refused("merge_method: linear\nmodels: [\n")).message).toMatch(/recipeYaml is not valid YAML/);
    const method = await refused("merge_method: passthrough\nmodels: [{ model: a1@1 }]\n");
    expect(method.extensions?.field).toBe("recipeYaml.merge_method");
    expect(method.message).toMatch(/"passthrough" is not supported/);
    const missing = await refused("merge_method: linear\nmodels: [{ model: a1@1 }, { model: nobody@3 }]\n");
    expect(missing.message).toMatch(/model "nobody@3" of the recipe cannot be resolved/);
    const badRef = await refused("merge_method: linear\nmodels: [{ model: x }, { model: a2@1 }]\n", [{ key: "x", id: "no-such-id" }]);
    expect(badRef.extensions?.field).toBe("modelRefs.0");
    expect(badRef.message).toMatch(/id "no-such-id" is not a live model/);
    const strayRef = await refused("merge_method: linear\nmodels: [{ model: a1@1 }, { model: a2@1 }]\n", [{ key: "a4@1", nameVersion: "a3@1" }]);
    expect(strayRef.extensions?.field).toBe("modelRefs.0.key");
    const layers = await refused("merge_method: linear\nmodels: [{ model: a1@1 }, { model: a2@1 }]\nlayermerge: { layers: 9 }\n");
    expect(layers.extensions?.field).toBe("recipeYaml.layermerge.layers");
    expect(layers.message).toMatch(/a1@1 has 4 layers/);
    // Nothing was queued by the refusals.
    const { jobs } = await server.ok(`{ jobs(status: [QUEUED, RUNNING]) { totalCount } }`);
    expect(jobs.totalCount).toBe(0);
  });
});
