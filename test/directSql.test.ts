import { createTestDatabase, databaseKinds, TestDatabase } from "./support/testDatabase";
import { openDatabase, Database } from "../src/persistence/database";
import { joinSql, sql } from "../src/persistence/directSql";
import { cuid } from "../src/persistence/cuid";
import { ResizeMode } from "../src/domain/enums";
import { ModelService } from "../src/services/modelService";
import { isForeignKeyViolation, isUniqueViolation } from "../src/services/prismaErrors";

describe.each(databaseKinds)("direct statements on Prisma's connection (%s)", (kind) => {
  let target: TestDatabase;
  let database: Database;
  let taskId: string;

  beforeAll(async () => {
    target = await createTestDatabase(kind);
    database = await openDatabase(target.url);
    taskId = (await database.prisma.task.create({ data: { key: "semantic", name: "Semantic", kind: "SEMANTIC", primaryMetric: "MIOU" } })).id;
  });
  afterAll(async () => {
    await database.close();
    await target.cleanup();
  });

  // 100 KB of JSON text with quotes, backslashes and non-ASCII, as a layout is.
  const layout = JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ name: `layer.${i}.weight`, note: 'a "quoted" \\ path — ü' })));

  test("values reach the columns as Prisma reads them back: text, big integers, timestamps, null", async () => {
    const createdAt = new Date("2026-03-04T05:06:07.089Z");
    const size = 2n ** 53n + 7n; // not a float64
    const written = await database.direct.execute(sql`INSERT INTO "Artifact" ("id", "sha256", "sizeBytes", "format", "storageKey", "layout", "createdAt")
      VALUES (${"a1"}, ${"f".repeat(64)}, ${size}, ${"onnx"}, ${"key"}, ${layout}, ${createdAt})`);
    expect(written).toBe(1);
    const row = await database.prisma.artifact.findUniqueOrThrow({ where: { id: "a1" } });
    expect(row).toEqual({ id: "a1", sha256: "f".repeat(64), sizeBytes: size, format: "onnx", storageKey: "key", layout: JSON.parse(layout), createdAt });
    await database.direct.execute(sql`INSERT INTO "Artifact" ("id", "sha256", "sizeBytes", "format", "storageKey", "layout", "createdAt")
      VALUES (${"a2"}, ${"d".repeat(64)}, ${0n}, ${"onnx"}, ${"key2"}, ${null}, ${createdAt})`);
    expect(await database.prisma.artifact.findUniqueOrThrow({ where: { id: "a2" } })).toMatchObject({ layout: null, sizeBytes: 0n });
    expect(await database.direct.query(sql`SELECT "id", "storageKey" FROM "Artifact" WHERE "sizeBytes" > ${1} ORDER BY "id"`)).toEqual([{ id: "a1", storageKey: "key" }]);
    // Fragments inside a statement keep their values as parameters, in order.
    const ids = joinSql([sql`${"a2"}`, sql`${"no-such"}`, sql`${"a1"}`], ", ");
    expect(await database.direct.query(sql`SELECT "id" FROM "Artifact" WHERE "id" IN (${ids}) AND "format" = ${"onnx"} ORDER BY "id"`)).toEqual([{ id: "a1" }, { id: "a2" }]);
  });

  test("a transaction commits what `use` wrote, or nothing when it throws; driver errors are classified", async () => {
    const insert = (id: string, name: string) => sql`INSERT INTO "Model" ("id", "name", "version", "taskId", "origin", "createdAt", "updatedAt") VALUES (${id}, ${name}, ${"1"}, ${taskId}, ${"TRAINED"}, ${new Date()}, ${new Date()})`;
    await database.direct.transaction(async (tx) => {
      await tx.execute(insert("m1", "kept"));
      expect(await tx.query(sql`SELECT "name" FROM "Model" WHERE "id" = ${"m1"}`)).toEqual([{ name: "kept" }]);
    });
    const duplicate = await database.direct
      .transaction(async (tx) => {
        await tx.execute(insert("m2", "rolled-back"));
        await tx.execute(insert("m3", "kept")); // same name and version as m1
      })
      .catch((error: unknown) => error);
    expect(isUniqueViolation(duplicate)).toBe(true);
    const dangling = await database.direct
      .execute(sql`INSERT INTO "ModelTag" ("modelId", "tag") VALUES (${"no-such-model"}, ${"x"})`)
      .catch((error: unknown) => error);
    expect(isForeignKeyViolation(dangling)).toBe(true);
    const thrown = await database.direct
      .transaction(async (tx) => {
        await tx.execute(insert("m4", "rolled-back-too"));
        throw new Error("changed my mind");
      })
      .catch((error: Error) => error.message);
    expect(thrown).toBe("changed my mind");
    expect((await database.prisma.model.findMany({ orderBy: { id: "asc" } })).map((m) => m.id)).toEqual(["m1"]);
    // The connection is usable after both rollbacks, by Prisma too.
    expect(await database.prisma.model.count()).toBe(1);
  });

  test("insertDirect returns the row Prisma reads back, tags and inference contract included", async () => {
    const models = new ModelService(database.prisma, kind);
    const sha = "e".repeat(64);
    const artifactId = (await database.prisma.artifact.create({ data: { sha256: sha, sizeBytes: 10n, format: "safetensors", storageKey: sha } })).id;
    const structureId = (
      await database.prisma.structure.create({ data: { hash: "s1", format: "safetensors", tensorCount: 0, parameterCount: 0n, parameterCountByDtype: {}, layerCount: 0, layerOrderSource: "STORAGE", groups: [] } })
    ).id;
    const validated = await models.validateForCreate({ name: "direct", version: "2", description: "by hand", taskId, architecture: "segformer", udaStrategy: "DAFormer", tags: ["uda", "gta"],
      inference: { width: 1024, height: 512, resize: { mode: ResizeMode.SLIDE, cropSize: [512, 512], stride: [341, 341] } } });
    const row = await database.direct.transaction((tx) => models.insertDirect(tx, validated, { structureId, artifactSha256: sha }));
    const read = await database.prisma.model.findUniqueOrThrow({ where: { id: row.id }, include: { tags: { orderBy: { tag: "asc" } } } });
    const { tags, ...stored } = read;
    expect(row).toEqual(stored);
    expect(row).toMatchObject({ name: "direct", version: "2", description: "by hand", architecture: "segformer", origin: "TRAINED", artifactId, structureId, deletedAt: null, backboneId: null });
    expect(tags.map((t) => t.tag)).toEqual(["gta", "uda"]);
    expect(read.inference).toMatchObject({ width: 1024, height: 512, resize: { mode: "SLIDE", cropSize: [512, 512], stride: [341, 341] } });
    // The same name and version again: the driver's unique violation becomes the CONFLICT the
    // Prisma path gives.
    const again = await database.direct.transaction((tx) => models.insertDirect(tx, validated, { structureId, artifactSha256: sha })).catch((error: unknown) => models.insertFailed(validated, error));
    expect(again).toMatchObject({ code: "CONFLICT", field: "input.version" });
    expect(await database.prisma.model.count({ where: { name: "direct" } })).toBe(1);
  });
});

test("cuid() ids have Prisma's cuid form, sort by time and do not repeat", () => {
  const ids = Array.from({ length: 10_000 }, () => cuid());
  // Prisma's own check (isCuid in @prisma/client's runtime).
  for (const id of ids) expect(id).toMatch(/^c[a-z0-9]{20,32}$/);
  expect(new Set(ids).size).toBe(ids.length);
  const before = cuid();
  const later = Date.now() + 2;
  while (Date.now() < later);
  expect(cuid().slice(1, 9) > before.slice(1, 9)).toBe(true);
});
