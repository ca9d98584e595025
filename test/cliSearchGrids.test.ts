import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startTestServer, TestServer } from "./support/testServer";
import { upload } from "./support/http";
import { blocks, twoLayerNet } from "./support/searchFixtures";
import { writeOnnxModel } from "../src/core/formats/onnx/testing/onnxModelWriter";
import { cli } from "./support/cli";

/*
 * `layermerge search` with methods, schedules and parameter grids, against a real server: the
 * grids typed on the command line are what the search records and what its candidates expand to.
 */

const CLASSES = [
  { id: 0, name: "red", isThing: false },
  { id: 1, name: "green", isThing: false },
  { id: 2, name: "blue", isThing: true },
];
const CONTRACT = { inputName: "image", width: 4, height: 4, resize: { mode: "FIXED" }, channelOrder: "RGB", mean: [120, 120, 120], std: [60, 60, 60], outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" }] };

describe("layermerge search --grid (against a server)", () => {
  let server: TestServer;
  let root: string;
  let labelled: string;
  let base: string;
  const pool: string[] = [];

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "lm-cli-grid-"));
    server = await startTestServer("sqlite", { LAYERMERGE_DATASET_ROOTS: root });
    const taskId = (await server.ok(`mutation { createTask(input: { key: "sem", name: "Semantic", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    await blocks(path.join(root, "labelled"));
    labelled = (await server.ok(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, { i: { name: "source", taskId, format: "SEMANTIC_PNG", location: path.join(root, "labelled"), classes: CLASSES } })).createDataset.id;
    const register = async (name: string, seed: number) => {
      const { body } = await upload(server.origin, writeOnnxModel(twoLayerNet(seed)).bytes);
      return (await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name, taskId, artifactSha256: body.sha256, inference: CONTRACT } })).registerModel.id as string;
    };
    for (const seed of [11, 22, 33]) pool.push(await register(`m${seed}`, seed));
    base = await register("pre", 44);
  });
  afterAll(async () => {
    await server.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  test("the search records the grids as typed (registry names) and its candidates cross them with the model sets and schedules", async () => {
    const run = await cli(
      ["search", "--pool", ...pool, "--anchors", pool[0]!, "--max-models", "2", "--methods", "ties,dare", "--base", base, "--schedules", "uniform,linear",
        "--grid", "ties.density=0.2,0.8", "--grid", "dare.drop-rate=0.3,0.6", "--objective", "score", "--dataset", labelled, "--keep", "none", "--top", "100"],
      { LAYERMERGE_URL: server.origin },
    );
    expect(run.err).not.toMatch(/layermerge:/);
    expect(run.code).toBe(0);
    // By hand: 3 singles, and for each of the 2 pairs anchored by the first model,
    // TIES × 2 densities + DARE × 2 drop rates, each × 2 schedules: 3 + 2 × 4 × 2 = 19.
    const started = /search (\S+): 19 candidates; job/.exec(run.err);
    expect(started).not.toBeNull();
    const { mergeSearch } = await server.ok(`query($id: ID!) { mergeSearch(id: $id) { planned settings candidates(first: 100) { totalCount edges { node { isSingle recipe } } } } }`, { id: started![1] });
    expect(mergeSearch.planned).toBe(19);
    expect(mergeSearch.settings.paramGrids).toEqual([
      { method: "TIES", parameters: [{ name: "density", values: [0.2, 0.8] }] },
      { method: "DARE", parameters: [{ name: "dropRate", values: [0.3, 0.6] }] },
    ]);
    expect(mergeSearch.settings.methods).toEqual(["TIES", "DARE"]);
    expect(mergeSearch.settings.baseModelId).toBe(base);
    const merges = mergeSearch.candidates.edges.map((e: any) => e.node).filter((n: any) => !n.isSingle);
    const described = merges.map((n: any) => `${n.recipe.modelIds.join("+")} ${n.recipe.method} ${JSON.stringify(n.recipe.params)} ${n.recipe.schedule.kind}`).sort();
    const expected = [pool[1], pool[2]].flatMap((c) =>
      [...[0.2, 0.8].map((d) => `TIES {"density":${d}}`), ...[0.3, 0.6].map((p) => `DARE {"dropRate":${p}}`)].flatMap((m) => ["UNIFORM", "LINEAR"].map((s) => `${c} ${m} ${s}`)),
    ).sort();
    expect(described).toEqual(expected);
    expect(mergeSearch.candidates.totalCount).toBe(19);
    // The table names each candidate's parameters.
    expect(run.out).toMatch(/TIES density=0\.8 (UNIFORM|LINEAR)/);
    expect(run.out).toMatch(/DARE dropRate=0\.3 (UNIFORM|LINEAR)/);
  });
});

describe("layermerge search --grid refusals", () => {
  // Nothing to reach: each is refused before the CLI talks to a registry.
  const env = { LAYERMERGE_URL: "http://127.0.0.1:1" };
  const search = (...flags: string[]) => cli(["search", "--pool", "a", "b", "--objective", "score", "--dataset", "d", ...flags], env);

  test.each([
    [["--methods", "ties", "--grid", "ties.density=0.2,0"], /--grid "ties\.density=0\.2,0": TIES parameter density must be in \(0, 1\], got 0/],
    [["--methods", "ties", "--grid", "ties.density=0.2,abc"], /--grid "ties\.density=0\.2,abc": "abc" is not a number/],
    [["--methods", "ties", "--grid", "ties.drop-rate=0.5"], /--grid "ties\.drop-rate=0\.5": TIES has no parameter "drop-rate"; its parameters are lambda, density/],
    [["--methods", "ties", "--grid", "dare.drop-rate=0.5"], /--grid "dare\.drop-rate=0\.5": DARE is not among the search's methods \(TIES\)/],
    [["--grid", "ties.density=0.5"], /TIES is not among the search's methods \(LAYERWISE\)/],
    [["--methods", "ties", "--grid", "ties-density=0.5"], /--grid "ties-density=0\.5" is not METHOD\.PARAMETER=v1,v2,…/],
    [["--methods", "ties", "--grid", "ties.density=0.5,0.5"], /--grid "ties\.density=0\.5,0\.5": values lists a value twice/],
    [["--methods", "ties", "--grid", "ties.density=0.5", "--grid", "ties.density=0.7"], /--grid "ties\.density=0\.7": TIES\.density is given twice/],
    [["--methods", "tie"], /--methods "tie": unknown method "tie"; expected one of LAYERWISE, /],
    [["--schedules", "step:x"], /--schedules "step:x": cutoff "x" is not a number/],
  ])("%j is refused naming the value", async (flags, message) => {
    const run = await search(...flags);
    expect(run.code).toBe(1);
    expect(run.err).toMatch(message);
  });
});
