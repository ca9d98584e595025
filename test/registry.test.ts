import { databaseKinds } from "./support/testDatabase";
import { startTestServer, TestServer } from "./support/testServer";
import { createModel, seedBasics } from "./support/fixtures";

describe.each(databaseKinds)("registry CRUD through GraphQL (%s)", (kind) => {
  let server: TestServer;
  let basics: Awaited<ReturnType<typeof seedBasics>>;

  beforeAll(async () => {
    server = await startTestServer(kind);
    basics = await seedBasics(server);
  });
  afterAll(() => server.stop());

  test("tasks: create, read, update, refuse duplicates and bad enums", async () => {
    const { createTask } = await server.ok(`mutation { createTask(input: { key: "panoptic", name: "Panoptic", kind: PANOPTIC, primaryMetric: PQ }) { id key kind primaryMetric } }`);
    expect(createTask).toMatchObject({ key: "panoptic", kind: "PANOPTIC", primaryMetric: "PQ" });

    const duplicate = await server.gql(`mutation { createTask(input: { key: "panoptic", name: "Again", kind: PANOPTIC, primaryMetric: PQ }) { id } }`);
    expect(duplicate.errors?.[0].extensions).toMatchObject({ code: "CONFLICT", field: "input.key" });

    const badEnum = await server.gql(`mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }`, { i: { key: "x", name: "x", kind: "DETECTION", primaryMetric: "MIOU" } });
    expect(badEnum.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(badEnum.errors?.[0].message).toMatch(/DETECTION/);

    const badSlug = await server.gql(`mutation { createTask(input: { key: "Has Spaces", name: "x", kind: SEMANTIC, primaryMetric: MIOU }) { id } }`);
    expect(badSlug.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.key" });

    const { updateTask } = await server.ok(`mutation($id: ID!) { updateTask(id: $id, input: { name: "Panoptic segmentation" }) { name key } }`, { id: createTask.id });
    expect(updateTask).toEqual({ name: "Panoptic segmentation", key: "panoptic" });

    const { task } = await server.ok(`query($id: ID!) { task(id: $id) { key } }`, { id: createTask.id });
    expect(task.key).toBe("panoptic");
    const { tasks } = await server.ok(`{ tasks { key } }`);
    expect(tasks.map((t: { key: string }) => t.key)).toEqual(["panoptic", "semantic"]);

    await server.ok(`mutation($id: ID!) { deleteTask(id: $id) { id } }`, { id: createTask.id });
    const gone = await server.ok(`query($id: ID!) { task(id: $id) { key } }`, { id: createTask.id });
    expect(gone.task).toBeNull();
    const inUse = await server.gql(`mutation($id: ID!) { deleteTask(id: $id) { id } }`, { id: basics.task.id });
    expect(inUse.errors?.[0].extensions?.code).toBe("CONFLICT");
  });

  test("datasets: class list with thing/stuff, ignore index and defaults", async () => {
    const { dataset } = await server.ok(
      `query($id: ID!) { dataset(id: $id) { name domain split format location ignoreIndex task { key } classes { id name isThing datasetId } } }`,
      { id: basics.cityscapes.id },
    );
    expect(dataset).toEqual({
      name: "Cityscapes",
      domain: "Cityscapes",
      split: "val",
      format: "CITYSCAPES",
      location: "/data/cityscapes",
      ignoreIndex: 255,
      task: { key: "semantic" },
      classes: [
        { id: 0, name: "road", isThing: false, datasetId: 0 },
        { id: 1, name: "car", isThing: true, datasetId: 26 },
      ],
    });

    const create = (classes: unknown, extra: Record<string, unknown> = {}) =>
      server.gql(`mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`, {
        i: { name: "Synthia", taskId: basics.task.id, format: "SEMANTIC_PNG", location: "/data/d", classes, verify: false, ...extra },
      });
    expect((await create([])).errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.classes" });
    expect((await create([{ id: 0, name: "a", isThing: false }, { id: 0, name: "b", isThing: false }])).errors?.[0].extensions).toMatchObject({ field: "input.classes.1.id" });
    expect((await create([{ id: 0, name: " ", isThing: false }])).errors?.[0].extensions).toMatchObject({ field: "input.classes.0.name" });
    expect((await create([{ id: 0, name: "a", isThing: false, datasetId: 255 }])).errors?.[0].message).toMatch(/ignore index/);
    expect((await create([{ id: 0, name: "a", isThing: false }], { taskId: "nope" })).errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.taskId" });
    // Same name and split twice is a conflict; another split is a new dataset.
    expect((await create([{ id: 0, name: "a", isThing: false }], { name: "Cityscapes" })).errors?.[0].extensions?.code).toBe("CONFLICT");
    expect((await create([{ id: 0, name: "a", isThing: false }], { name: "Cityscapes", split: "test" })).errors).toBeUndefined();
  });

  test("models: create with contract and tags, update, unique name + version", async () => {
    const model = await server.ok(
      `mutation($i: CreateModelInput!) { createModel(input: $i) { id name version origin tags architecture udaStrategy
          task { key } backbone { name } sourceDataset { name } targetDataset { name }
          inference { inputName width height channelOrder mean std resize { mode cropSize stride } outputs { name kind } postprocess { topK } } } }`,
      {
        i: {
          name: "daformer-gta",
          taskId: basics.task.id,
          architecture: "DAFormer",
          backboneId: basics.backbone.id,
          sourceDatasetId: basics.gta.id,
          targetDatasetId: basics.cityscapes.id,
          udaStrategy: "DAFormer",
          tags: ["uda", "gta", "uda"],
          inference: { width: 1024, height: 512, resize: { mode: "SLIDE", cropSize: [512, 512], stride: [341, 341] } },
        },
      },
    );
    expect(model.createModel).toMatchObject({
      name: "daformer-gta",
      version: "1",
      origin: "TRAINED",
      tags: ["gta", "uda"],
      task: { key: "semantic" },
      backbone: { name: "MiT-B5" },
      sourceDataset: { name: "GTA5" },
      targetDataset: { name: "Cityscapes" },
      inference: {
        inputName: "input",
        width: 1024,
        height: 512,
        channelOrder: "RGB",
        mean: [123.675, 116.28, 103.53],
        std: [58.395, 57.12, 57.375],
        resize: { mode: "SLIDE", cropSize: [512, 512], stride: [341, 341] },
        outputs: [{ name: "logits", kind: "SEMANTIC_LOGITS" }],
        postprocess: null,
      },
    });
    const id = model.createModel.id;

    const dup = await server.gql(`mutation($t: ID!) { createModel(input: { name: "daformer-gta", taskId: $t }) { id } }`, { t: basics.task.id });
    expect(dup.errors?.[0].extensions?.code).toBe("CONFLICT");
    const v2 = await server.gql(`mutation($t: ID!) { createModel(input: { name: "daformer-gta", version: "2", taskId: $t }) { version } }`, { t: basics.task.id });
    expect(v2.data?.createModel.version).toBe("2");

    const { updateModel } = await server.ok(
      `mutation($id: ID!) { updateModel(id: $id, input: { tags: ["best"], udaStrategy: null, description: "seed 0" }) { tags udaStrategy description name } }`,
      { id },
    );
    expect(updateModel).toEqual({ tags: ["best"], udaStrategy: null, description: "seed 0", name: "daformer-gta" });

    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: "", taskId: basics.task.id }, "input.name"],
      [{ name: "m", taskId: "missing" }, "input.taskId"],
      [{ name: "m", taskId: basics.task.id, backboneId: "missing" }, "input.backboneId"],
      [{ name: "m", taskId: basics.task.id, targetDatasetId: "missing" }, "input.targetDatasetId"],
      [{ name: "m", taskId: basics.task.id, inference: { std: [1, 0, 1] } }, "input.inference.std"],
      [{ name: "m", taskId: basics.task.id, inference: { width: 0 } }, "input.inference.width"],
      [{ name: "m", taskId: basics.task.id, inference: { postprocess: { nmsKernel: 4 } } }, "input.inference.postprocess.nmsKernel"],
    ];
    for (const [input, field] of cases) {
      const result = await server.gql(`mutation($i: CreateModelInput!) { createModel(input: $i) { id } }`, { i: input });
      expect(result.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field });
      expect(result.errors?.[0].message.length).toBeGreaterThan(10);
    }
    // References are reported before field errors, and both before a taken name + version.
    const precedence: Array<[Record<string, unknown>, string, string]> = [
      [{ name: "", taskId: "missing" }, "BAD_USER_INPUT", "input.taskId"],
      [{ name: "daformer-gta", taskId: basics.task.id, backboneId: "missing" }, "BAD_USER_INPUT", "input.backboneId"],
      [{ name: "daformer-gta", taskId: basics.task.id, sourceDatasetId: "missing", targetDatasetId: "missing" }, "BAD_USER_INPUT", "input.sourceDatasetId"],
      [{ name: "daformer-gta", taskId: basics.task.id, inference: { width: 0 } }, "BAD_USER_INPUT", "input.inference.width"],
      [{ name: " daformer-gta ", version: " 2 ", taskId: basics.task.id, backboneId: basics.backbone.id, sourceDatasetId: basics.gta.id }, "CONFLICT", "input.version"],
    ];
    const before = (await server.ok(`{ models { totalCount } }`)).models.totalCount;
    for (const [input, code, field] of precedence) {
      const result = await server.gql(`mutation($i: CreateModelInput!) { createModel(input: $i) { id } }`, { i: input });
      expect(result.errors?.[0].extensions).toMatchObject({ code, field });
    }
    expect((await server.ok(`{ models { totalCount } }`)).models.totalCount).toBe(before);
    // An update checks the references it is given.
    const badUpdate = await server.gql(`mutation($id: ID!) { updateModel(id: $id, input: { targetDatasetId: "missing" }) { id } }`, { id });
    expect(badUpdate.errors?.[0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "input.targetDatasetId" });
    const goodUpdate = await server.ok(`mutation($id: ID!, $d: ID!) { updateModel(id: $id, input: { targetDatasetId: $d }) { targetDataset { name } } }`, { id, d: basics.gta.id });
    expect(goodUpdate.updateModel.targetDataset.name).toBe("GTA5");
    await server.ok(`mutation($id: ID!, $d: ID!) { updateModel(id: $id, input: { targetDatasetId: $d }) { id } }`, { id, d: basics.cityscapes.id });

    const missingRequired = await server.gql(`mutation { createModel(input: { name: "x" }) { id } }`);
    expect(missingRequired.errors?.[0].extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
    expect(missingRequired.errors?.[0].message).toMatch(/taskId/);

    const unknown = await server.gql(`mutation { updateModel(id: "nope", input: { name: "x" }) { id } }`);
    expect(unknown.errors?.[0].extensions?.code).toBe("NOT_FOUND");
  });

  test("models: inference.normalization defaults to DIVIDE, round-trips MMCV, and reads DIVIDE for a contract stored without it", async () => {
    const fields = `id inference { normalization mean std }`;
    const create = (name: string, inference: Record<string, unknown>) =>
      server.gql(`mutation($i: CreateModelInput!) { createModel(input: $i) { ${fields} } }`, { i: { name, taskId: basics.task.id, inference } });
    const plain = await create("norm-default", { width: 64, height: 64 });
    expect(plain.data?.createModel.inference.normalization).toBe("DIVIDE");
    const mmcv = await create("norm-mmcv", { normalization: "MMCV" });
    expect(mmcv.data?.createModel.inference).toEqual({ normalization: "MMCV", mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375] });
    const bad = await create("norm-bad", { normalization: "OPENCV" });
    expect(bad.errors?.[0].message).toMatch(/OPENCV/);

    const { updateModel } = await server.ok(`mutation($id: ID!) { updateModel(id: $id, input: { inference: { normalization: DIVIDE } }) { inference { normalization } } }`, { id: mmcv.data?.createModel.id });
    expect(updateModel.inference.normalization).toBe("DIVIDE");

    // A contract written before the field existed: the stored JSON has no "normalization" key.
    const prisma = server.app.services.database.prisma;
    const id = plain.data?.createModel.id as string;
    const row = await prisma.model.findUniqueOrThrow({ where: { id } });
    const { normalization, ...legacy } = row.inference as Record<string, unknown>;
    expect(normalization).toBe("DIVIDE"); // what createModel stored
    await prisma.model.update({ where: { id }, data: { inference: legacy as object } });
    expect(Object.keys((await prisma.model.findUniqueOrThrow({ where: { id } })).inference as object)).not.toContain("normalization");
    const { model } = await server.ok(`query($id: ID!) { model(id: $id) { inference { normalization width } } }`, { id });
    expect(model.inference).toEqual({ normalization: "DIVIDE", width: 64 });
  });

  test("soft delete hides a model, keeps its name + version taken, and is refused while children depend on it", async () => {
    const parent = await createModel(server, { name: "parent", taskId: basics.task.id });
    const child = await createModel(server, { name: "child", taskId: basics.task.id });
    await server.ok(`mutation($p: ID!, $c: ID!) { addLineageEdge(input: { parentId: $p, childId: $c, relation: FINETUNED_FROM }) { id } }`, { p: parent.id, c: child.id });

    const refused = await server.gql(`mutation($id: ID!) { deleteModel(id: $id) { id } }`, { id: parent.id });
    expect(refused.errors?.[0].extensions?.code).toBe("CONFLICT");
    expect(refused.errors?.[0].message).toMatch(/child@1/);

    const { deleteModel } = await server.ok(`mutation($id: ID!) { deleteModel(id: $id) { id deletedAt } }`, { id: child.id });
    expect(deleteModel.deletedAt).not.toBeNull();
    // The child is gone from lists, so the parent may now go too.
    await server.ok(`mutation($id: ID!) { deleteModel(id: $id) { id } }`, { id: parent.id });

    const names = async (includeDeleted: boolean) =>
      (await server.ok(`query($d: Boolean) { models(includeDeleted: $d, first: 500) { totalCount edges { node { name } } } }`, { d: includeDeleted })).models.edges.map(
        (e: { node: { name: string } }) => e.node.name,
      );
    expect(await names(false)).not.toEqual(expect.arrayContaining(["parent"]));
    expect(await names(false)).not.toEqual(expect.arrayContaining(["child"]));
    expect(await names(true)).toEqual(expect.arrayContaining(["parent", "child"]));
    const { model } = await server.ok(`query($id: ID!) { model(id: $id) { name deletedAt } }`, { id: child.id });
    expect(model.deletedAt).not.toBeNull();

    const retaken = await server.gql(`mutation($t: ID!) { createModel(input: { name: "child", taskId: $t }) { id } }`, { t: basics.task.id });
    expect(retaken.errors?.[0].extensions?.code).toBe("CONFLICT");
    const again = await server.gql(`mutation($id: ID!) { deleteModel(id: $id) { id } }`, { id: child.id });
    expect(again.errors?.[0].extensions?.code).toBe("NOT_FOUND");
  });

  test("backbones: CRUD and refusal while used", async () => {
    const { createBackbone } = await server.ok(`mutation { createBackbone(input: { name: "ResNet-101", family: "ResNet" }) { id name family parameterPrefix } }`);
    expect(createBackbone).toMatchObject({ name: "ResNet-101", family: "ResNet", parameterPrefix: null });
    const { backbones } = await server.ok(`{ backbones { name } }`);
    expect(backbones.map((b: { name: string }) => b.name)).toEqual(["MiT-B5", "ResNet-101"]);
    await server.ok(`mutation($id: ID!) { deleteBackbone(id: $id) { id } }`, { id: createBackbone.id });
    const used = await server.gql(`mutation($id: ID!) { deleteBackbone(id: $id) { id } }`, { id: basics.backbone.id });
    expect(used.errors?.[0].extensions?.code).toBe("CONFLICT");
  });
});
