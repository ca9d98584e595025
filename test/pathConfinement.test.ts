import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { upload } from "./support/http";
import { waitForJob } from "./support/jobs";
import { confinePath, datasetRule } from "../src/services/pathConfinement";
import { DomainError } from "../src/core/errors";
import { blockImage, colourNet, writeSemanticSample } from "../src/runtime/testing/evalFixtures";
import { writeOnnxModel } from "../src/core/formats/onnx/testing/onnxModelWriter";

/*
 * Server paths given by clients — registerModel(path), dataset locations — are confined to the
 * configured roots, and FORBIDDEN is decided from the path alone: a refused path answers the same
 * whether or not anything exists there, so the answers reveal nothing of the rest of the disk.
 */

/** A refusal with the path it names replaced by `<path>`: equal shapes compare equal. */
const shape = (message: string, given: string) => message.split(given).join("<path>");

async function refusal(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    return error as DomainError;
  }
  throw new Error("expected a refusal");
}

describe("confinePath", () => {
  let root: string;
  let outside: string;
  beforeAll(() => {
    root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "lm-confine-root-")));
    outside = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "lm-confine-out-")));
    fs.writeFileSync(path.join(outside, "secret"), "x");
    fs.mkdirSync(path.join(root, "inner"));
    fs.writeFileSync(path.join(root, "inner", "file"), "y");
    fs.symlinkSync(outside, path.join(root, "to-outside"));
    fs.symlinkSync(path.join(outside, "secret"), path.join(root, "to-secret"));
    fs.symlinkSync(path.join(outside, "nothing-here"), path.join(root, "dangling"));
    fs.symlinkSync(path.join(root, "inner"), path.join(root, "to-inner"));
    fs.symlinkSync(root, path.join(outside, "root-alias"));
  });
  afterAll(() => {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(outside, { recursive: true, force: true });
  });
  const rule = () => datasetRule([root], "input.location");

  test("inside the roots: the path with its links resolved, whether or not it exists yet", async () => {
    expect(await confinePath(path.join(root, "inner", "file"), rule())).toBe(path.join(root, "inner", "file"));
    expect(await confinePath(path.join(root, "to-inner", "file"), rule())).toBe(path.join(root, "inner", "file"));
    expect(await confinePath(path.join(root, "inner", "..", "inner"), rule())).toBe(path.join(root, "inner"));
    expect(await confinePath(path.join(root, "not", "yet"), rule())).toBe(path.join(root, "not", "yet"));
    expect(await confinePath(root, rule())).toBe(root);
    // A root given through a link: paths under its target are inside too.
    const aliased = datasetRule([path.join(outside, "root-alias")]);
    expect(await confinePath(path.join(root, "inner"), aliased)).toBe(path.join(root, "inner"));
    expect(await confinePath(path.join(outside, "root-alias", "inner"), aliased)).toBe(path.join(root, "inner"));
  });

  test("outside (lexically, by '..', through a link, dangling link): FORBIDDEN, one shape whether or not the target exists", async () => {
    const cases = [
      path.join(outside, "secret"), // exists
      path.join(outside, "nothing-here"), // does not
      "/etc/shadow",
      "/etc/does-not-exist",
      path.join(root, "..", path.basename(outside), "secret"),
      path.join(root, "..", path.basename(outside), "nothing-here"),
      path.join(root, "to-outside", "secret"),
      path.join(root, "to-outside", "nothing-here"),
      path.join(root, "to-secret"),
      path.join(root, "dangling"),
      path.join(root, "dangling", "deeper"),
      `${root}-sibling/x`, // shares the root's name as a prefix
    ];
    const shapes = new Set<string>();
    for (const given of cases) {
      const error = await refusal(confinePath(given, rule()));
      expect({ given, code: error.code, field: error.field }).toEqual({ given, code: "FORBIDDEN", field: "input.location" });
      shapes.add(shape(error.message, given));
    }
    expect([...shapes]).toEqual(["<path> is outside the dataset roots (LAYERMERGE_DATASET_ROOTS)"]);
  });

  test("a relative path is bad input, not a probe", async () => {
    const error = await refusal(confinePath("etc/shadow", rule()));
    expect([error.code, error.field]).toEqual(["BAD_USER_INPUT", "input.location"]);
  });
});

const CLASSES = [
  { id: 0, name: "red", isThing: false },
  { id: 1, name: "green", isThing: false },
  { id: 2, name: "blue", isThing: true },
];
const CONTRACT = { inputName: "image", width: 4, height: 4, resize: { mode: "FIXED" }, channelOrder: "RGB", mean: [0, 0, 0], std: [1, 1, 1], outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" }] };

async function blocks(dir: string, copies = 2) {
  const img = blockImage([[0, 1], [2, 0]], 2);
  for (let i = 0; i < copies; i++) await writeSemanticSample(dir, `img${i}`, img.width, img.height, img.rgb, img.classes);
}

describe.each(databaseKinds)("server paths through GraphQL (%s)", (kind) => {
  let server: TestServer;
  let importRoot: string;
  let outside: string;
  let datasetRoot: string;
  let taskId: string;

  beforeAll(async () => {
    importRoot = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "lm-paths-import-")));
    outside = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "lm-paths-out-")));
    // LAYERMERGE_DATASET_ROOTS unset: the default, <data dir>/datasets plus the import roots.
    server = await startTestServer(kind, { LAYERMERGE_IMPORT_ROOTS: importRoot, LAYERMERGE_DATASET_ROOTS: "" });
    datasetRoot = path.join(server.db.dataDir, "datasets");
    taskId = (await server.ok(`mutation { createTask(input: { key: "sem", name: "Semantic", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`)).createTask.id;
    await blocks(path.join(outside, "valid"));
    await blocks(path.join(datasetRoot, "valid"));
    await blocks(path.join(importRoot, "valid"));
    fs.symlinkSync(path.join(outside, "valid"), path.join(datasetRoot, "escape"));
  });
  afterAll(async () => {
    await server.stop();
    fs.rmSync(importRoot, { recursive: true, force: true });
    fs.rmSync(outside, { recursive: true, force: true });
  });

  const createDataset = (name: string, location: string, extra: Record<string, unknown> = {}) =>
    server.gql(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id imageCount checksum } }`, { i: { name, taskId, format: "SEMANTIC_PNG", location, classes: CLASSES, ...extra } });
  const datasetCount = async () => (await server.ok(`{ datasets { totalCount } }`)).datasets.totalCount as number;

  test("registerModel(path): no existence oracle — a missing and an existing file outside the roots answer alike", async () => {
    const register = (p: string) => server.gql(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: `m${Math.random()}`, taskId, path: p } });
    const shapes = new Set<string>();
    for (const p of ["/etc/does-not-exist", "/etc/shadow", path.join(outside, "nothing.onnx"), path.join(importRoot, "..", path.basename(outside), "nothing.onnx")]) {
      const error = (await register(p)).errors?.[0];
      expect({ p, code: error?.extensions?.code }).toEqual({ p, code: "FORBIDDEN" });
      shapes.add(shape(error!.message, p));
    }
    expect([...shapes]).toEqual(["<path> is outside the import roots (LAYERMERGE_IMPORT_ROOTS)"]);
    // Inside the roots, a missing file is named as such.
    const missing = (await register(path.join(importRoot, "nothing.onnx"))).errors?.[0];
    expect(missing?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.path" });
    expect(missing?.message).toMatch(/no file at/);
  });

  test("createDataset reads only under the dataset roots; outside, nothing is read or recorded", async () => {
    const cases = [
      path.join(outside, "valid"), // a valid dataset: it would be counted and checksummed
      "/etc",
      "/root",
      "/etc/does-not-exist",
      path.join(datasetRoot, "..", "..", path.basename(outside), "valid"),
      path.join(datasetRoot, "escape"), // a link inside the root to the outside dataset
    ];
    const shapes = new Set<string>();
    for (const location of cases) {
      for (const verify of [true, false]) {
        const error = (await createDataset(`d${Math.random()}`, location, { verify })).errors?.[0];
        expect({ location, verify, code: error?.extensions?.code, field: error?.extensions?.field }).toEqual({ location, verify, code: "FORBIDDEN", field: "input.location" });
        shapes.add(shape(error!.message, location));
      }
    }
    expect([...shapes]).toEqual(["<path> is outside the dataset roots (LAYERMERGE_DATASET_ROOTS)"]);
    expect(await datasetCount()).toBe(0);

    // Under <data dir>/datasets and under an import root: read and recorded.
    for (const [name, location] of [["in-data-dir", path.join(datasetRoot, "valid")], ["in-import-root", path.join(importRoot, "valid")]]) {
      const ok = await createDataset(name, location);
      expect(ok.errors).toBeUndefined();
      expect(ok.data.createDataset.imageCount).toBe(2);
    }
    const missing = (await createDataset("missing", path.join(datasetRoot, "nope"))).errors?.[0];
    expect(missing?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.location" });
    expect(await datasetCount()).toBe(2);
  });

  test("updateDataset: a new location follows the same rule", async () => {
    const { createDataset: d } = await server.ok(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, {
      i: { name: "movable", taskId, format: "SEMANTIC_PNG", location: path.join(datasetRoot, "later"), classes: CLASSES, verify: false },
    });
    const update = (location: string) => server.gql(`mutation($id: ID!, $i: UpdateDatasetInput!) { updateDataset(id: $id, input: $i) { location } }`, { id: d.id, i: { location } });
    for (const location of [path.join(outside, "valid"), "/etc/does-not-exist", path.join(datasetRoot, "escape")]) {
      expect((await update(location)).errors?.[0].extensions).toMatchObject({ code: "FORBIDDEN", field: "input.location" });
    }
    expect((await server.ok(`query($id: ID!) { dataset(id: $id) { location } }`, { id: d.id })).dataset.location).toBe(path.join(datasetRoot, "later"));
    expect((await update(path.join(importRoot, "valid"))).data?.updateDataset.location).toBe(path.join(importRoot, "valid"));
  });

  test("evaluation: a dataset recorded outside the roots (before they existed) is FORBIDDEN, naming LAYERMERGE_DATASET_ROOTS", async () => {
    const { body } = await upload(server.origin, writeOnnxModel(colourNet()).bytes);
    const { registerModel: model } = await server.ok(`mutation($i: RegisterModelInput!) { registerModel(input: $i) { id } }`, { i: { name: "net", taskId, artifactSha256: body.sha256, inference: CONTRACT } });
    const prisma = server.app.services.database.prisma;
    // Rows as an earlier version recorded them, without any check of the location.
    const recorded = async (name: string, location: string) =>
      (await prisma.dataset.create({ data: { name, taskId, format: "SEMANTIC_PNG", split: "val", location, ignoreIndex: 255, classes: CLASSES.map((c) => ({ ...c, datasetId: c.id })) } })).id;
    const jobsBefore = await prisma.job.count();
    for (const [name, location] of [["old-outside", path.join(outside, "valid")], ["old-link", path.join(datasetRoot, "escape")], ["old-etc", "/etc"]]) {
      const error = (await server.gql(`mutation($i: StartEvaluationInput!) { startEvaluation(input: $i) { id } }`, { i: { modelId: model.id, datasetId: await recorded(name, location) } })).errors?.[0];
      expect({ name, code: error?.extensions?.code, field: error?.extensions?.field }).toEqual({ name, code: "FORBIDDEN", field: "input.datasetId" });
      expect(error?.message).toContain(`dataset ${name} (val): ${location} is outside the dataset roots (LAYERMERGE_DATASET_ROOTS); add its folder to LAYERMERGE_DATASET_ROOTS`);
    }
    expect(await prisma.job.count()).toBe(jobsBefore);
    // The same files under a root evaluate.
    const inside = await recorded("old-inside", path.join(datasetRoot, "valid"));
    const { startEvaluation } = await server.ok(`mutation($i: StartEvaluationInput!) { startEvaluation(input: $i) { id } }`, { i: { modelId: model.id, datasetId: inside } });
    const job = await waitForJob(server, startEvaluation.id);
    expect(job.status).toBe("SUCCEEDED");

    // A job queued by an earlier version for a dataset outside the roots: the handler refuses it
    // before reading (the same payload as the job above, pointed at the outside dataset).
    const { payload } = await prisma.job.findUniqueOrThrow({ where: { id: startEvaluation.id } });
    const outsideId = (await prisma.dataset.findFirstOrThrow({ where: { name: "old-outside" } })).id;
    const queued = await prisma.job.create({ data: { kind: "EVALUATE", payload: { ...(payload as object), datasetId: outsideId }, message: "queued" } });
    await server.app.services.runner.enqueue(queued.id);
    const refused = await waitForJob(server, queued.id);
    expect([refused.status, refused.errorCode]).toEqual(["FAILED", "FORBIDDEN"]);
    expect(refused.error).toContain(`dataset old-outside (val): ${path.join(outside, "valid")} is outside the dataset roots (LAYERMERGE_DATASET_ROOTS)`);
    expect(await prisma.evaluation.count({ where: { datasetId: outsideId } })).toBe(0);
  });
});
