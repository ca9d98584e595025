import * as fs from "node:fs";
import * as path from "node:path";
import Database from "better-sqlite3";

/*
 * Structures stored before Structure.mergeableTensorCount existed get it from their tensor rows
 * when the migration that adds it runs (SQLite's migration SQL, applied on an older database).
 */
test("the migration adding mergeableTensorCount counts the mergeable tensors of structures already stored", () => {
  const root = path.resolve(__dirname, "..", "prisma", "migrations", "sqlite");
  const migrations = fs.readdirSync(root).sort();
  const adding = migrations.find((m) => fs.readFileSync(path.join(root, m, "migration.sql"), "utf8").includes(`ADD COLUMN "mergeableTensorCount"`))!;
  expect(adding).toBeDefined();
  const db = new Database(":memory:");
  for (const m of migrations.slice(0, migrations.indexOf(adding))) db.exec(fs.readFileSync(path.join(root, m, "migration.sql"), "utf8"));
  const structure = db.prepare(`INSERT INTO "Structure" ("id", "hash", "format", "tensorCount", "parameterCount", "parameterCountByDtype", "layerCount", "layerOrderSource", "groups") VALUES (?, ?, 'onnx', ?, 0, '{}', 1, 'GRAPH', '[]')`);
  const tensor = db.prepare(`INSERT INTO "StructureTensor" ("structureId", "position", "name", "shape", "dtype", "elements", "layerIndex", "group", "mergeable") VALUES (?, ?, ?, '[1]', 'F32', 1, 0, 'g', ?)`);
  structure.run("quantized", "h1", 4);
  [true, false, true, false].forEach((mergeable, k) => tensor.run("quantized", k, `t${k}`, mergeable ? 1 : 0));
  structure.run("empty", "h2", 0);
  db.exec(fs.readFileSync(path.join(root, adding, "migration.sql"), "utf8"));
  expect(db.prepare(`SELECT "id", "mergeableTensorCount" FROM "Structure" ORDER BY "id"`).all()).toEqual([
    { id: "empty", mergeableTensorCount: 0 },
    { id: "quantized", mergeableTensorCount: 2 },
  ]);
  db.close();
});
