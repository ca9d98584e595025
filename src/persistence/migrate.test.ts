import Database from "better-sqlite3";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { migrate, MIGRATIONS_ROOT } from "./migrate";

describe("migrations", () => {
  it("retire the INSTANCE task kind: such a task takes the kind its primary metric evaluates, others are untouched", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lm-migrate-"));
    const file = path.join(dir, "db.sqlite");
    try {
      // A database as the release before the retirement left it: migrations up to 0007 applied.
      const before = fs.readdirSync(path.join(MIGRATIONS_ROOT, "sqlite")).filter((n) => n < "0008").sort();
      const db = new Database(file);
      db.exec(`CREATE TABLE "_layermerge_migrations" ("name" TEXT PRIMARY KEY, "appliedAt" TEXT NOT NULL)`);
      for (const name of before) {
        db.exec(fs.readFileSync(path.join(MIGRATIONS_ROOT, "sqlite", name, "migration.sql"), "utf8"));
        db.prepare(`INSERT INTO "_layermerge_migrations" VALUES (?, ?)`).run(name, new Date().toISOString());
      }
      const insert = db.prepare(`INSERT INTO "Task" ("id", "key", "name", "kind", "primaryMetric", "updatedAt") VALUES (?, ?, ?, ?, ?, ?)`);
      for (const [id, kind, metric] of [["i-pq", "INSTANCE", "PQ"], ["i-miou", "INSTANCE", "MIOU"], ["s", "SEMANTIC", "MIOU"], ["p", "PANOPTIC", "PQ"]]) {
        insert.run(id, id, id, kind, metric, new Date().toISOString());
      }
      db.close();

      const result = await migrate(`file:${file}`);
      expect(result.applied).toContain("0012_retire_instance_task_kind");
      const after = new Database(file);
      expect(after.prepare(`SELECT "id", "kind" FROM "Task" ORDER BY "id"`).all()).toEqual([
        { id: "i-miou", kind: "SEMANTIC" },
        { id: "i-pq", kind: "PANOPTIC" },
        { id: "p", kind: "PANOPTIC" },
        { id: "s", kind: "SEMANTIC" },
      ]);
      after.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
