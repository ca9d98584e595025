import type { TestServer } from "./testServer";

/** A small registry: a semantic task, GTA5 → Cityscapes datasets, a backbone. */
export async function seedBasics(server: TestServer, suffix = "", token?: string) {
  const { createTask: task } = await server.ok(
    `mutation($i: CreateTaskInput!) { createTask(input: $i) { id key } }`,
    { i: { key: `semantic${suffix}`, name: "Semantic segmentation", kind: "SEMANTIC", primaryMetric: "MIOU" } },
    { token },
  );
  const classes = [
    { id: 0, name: "road", isThing: false },
    { id: 1, name: "car", isThing: true, datasetId: 26 },
  ];
  const { createDataset: gta } = await server.ok(
    `mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`,
    { i: { name: `GTA5${suffix}`, taskId: task.id, domain: "GTA5", split: "train", format: "SEMANTIC_PNG", location: "/data/gta5", classes, verify: false } },
    { token },
  );
  const { createDataset: cityscapes } = await server.ok(
    `mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }`,
    { i: { name: `Cityscapes${suffix}`, taskId: task.id, domain: "Cityscapes", format: "CITYSCAPES", location: "/data/cityscapes", classes, verify: false } },
    { token },
  );
  const { createBackbone: backbone } = await server.ok(
    `mutation($i: CreateBackboneInput!) { createBackbone(input: $i) { id } }`,
    { i: { name: `MiT-B5${suffix}`, family: "SegFormer", parameterPrefix: "backbone." } },
    { token },
  );
  return { task, gta, cityscapes, backbone };
}

export async function createModel(server: TestServer, input: Record<string, unknown>): Promise<{ id: string; name: string }> {
  const { createModel: model } = await server.ok(`mutation($i: CreateModelInput!) { createModel(input: $i) { id name } }`, { i: input });
  return model;
}
