import * as fs from "node:fs";
import * as path from "node:path";
import { buildAppSchema, printAppSchema } from "../src/graphql/schema";

describe("schema.graphql", () => {
  test("the committed SDL is the schema the server serves (run `npm run schema:emit` after API changes)", async () => {
    const committed = fs.readFileSync(path.join(__dirname, "..", "schema.graphql"), "utf8");
    const served = await printAppSchema();
    expect(committed).toBe(served);
  });

  test("the names dashboards and scripts rely on are present", async () => {
    const sdl = await printAppSchema();
    for (const name of [
      "task(id: ID!): Task",
      "lineage(depth: Int, direction: LineageDirection = BOTH, modelId: ID!, relations: [LineageRelation!]): LineageGraph!",
      "addLineageEdge(input: AddLineageEdgeInput!): LineageEdge!",
      "createDataset(input: CreateDatasetInput!): Dataset!",
      "deleteModel(id: ID!): Model!",
    ]) {
      expect(sdl).toContain(name);
    }
    const schema = await buildAppSchema();
    const models = schema.getQueryType()!.getFields().models;
    expect(models.args.map((a) => `${a.name}: ${a.type}`).sort()).toEqual(["after: String", "first: Int", "includeDeleted: Boolean", "orderBy: ModelOrderBy", "where: ModelWhere"]);
    expect(String(models.type)).toBe("ModelConnection!");
  });
});
