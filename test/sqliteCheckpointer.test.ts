import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import Database from "better-sqlite3";
import { INLINE_CHECKPOINT_PAGES, openDatabase } from "../src/persistence/database";
import { startSqliteCheckpointer } from "../src/persistence/sqliteCheckpointer";
import { sql } from "../src/persistence/directSql";

/**
 * In WAL mode the database file itself changes only when a checkpoint copies the WAL into it, so
 * its size says whether (and when) a checkpoint has run.
 */
describe("SQLite checkpoints in a thread of their own", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "layermerge-checkpoint-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function until(condition: () => boolean, ms = 10_000): Promise<boolean> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (condition()) return true;
      await new Promise((r) => setTimeout(r, 25));
    }
    return condition();
  }

  test("the checkpointer copies what other connections committed into the database file", async () => {
    const file = path.join(dir, "x.db");
    const writer = new Database(file);
    writer.pragma("journal_mode = WAL");
    writer.pragma("wal_autocheckpoint = 0");
    writer.exec(`CREATE TABLE t ("id" INTEGER PRIMARY KEY, "v" TEXT)`);
    const insert = writer.prepare(`INSERT INTO t ("v") VALUES (?)`);
    for (let i = 0; i < 100; i++) insert.run("x".repeat(100_000)); // ~10 MB, 100 commits
    const before = fs.statSync(file).size;
    expect(fs.statSync(`${file}-wal`).size).toBeGreaterThan(10_000_000);
    // Nobody has checkpointed: the rows are in the WAL only.
    expect(before).toBeLessThan(100_000);
    const checkpointer = startSqliteCheckpointer(file, 50);
    try {
      expect(await until(() => fs.statSync(file).size > 10_000_000)).toBe(true);
      // More commits after it: checkpointed too (130 rows of 100 KB in the file).
      for (let i = 0; i < 30; i++) insert.run("y".repeat(100_000));
      expect(await until(() => fs.statSync(file).size > 13_000_000)).toBe(true);
    } finally {
      await checkpointer.stop();
    }
    expect((writer.prepare(`SELECT COUNT(*) AS n FROM t`).get() as { n: number }).n).toBe(130);
    writer.close();
  });

  test("the app's commits leave checkpoints to its checkpointer below the backstop, and the WAL stays bounded", async () => {
    const file = path.join(dir, "app.db");
    const database = await openDatabase(`file:${file}`);
    try {
      const [setting] = await database.prisma.$queryRawUnsafe<Array<{ wal_autocheckpoint: number | bigint }>>("PRAGMA wal_autocheckpoint");
      expect(Number(setting!.wal_autocheckpoint)).toBe(INLINE_CHECKPOINT_PAGES);
      expect(INLINE_CHECKPOINT_PAGES * 4096).toBeGreaterThan(16_000_000);
      const start = fs.statSync(file).size;
      for (let i = 0; i < 80; i++) {
        await database.direct.execute(sql`INSERT INTO "Artifact" ("id", "sha256", "sizeBytes", "format", "storageKey", "layout", "createdAt")
          VALUES (${`a${i}`}, ${String(i).padStart(64, "0")}, ${0n}, ${"onnx"}, ${"k"}, ${"z".repeat(100_000)}, ${new Date()})`);
      }
      // ~8 MB committed, half the backstop: only the thread can have put it in the file.
      expect(await until(() => fs.statSync(file).size > start + 7_000_000)).toBe(true);
      // 100 MB more without a pause: the backstop starts the WAL over, whatever the thread does.
      // An inline checkpoint that meets the thread's gives way, so the WAL passes the backstop
      // while the thread's checkpoint lasts (up to ~37 MB with other processes busy on both
      // cores); without the backstop it grows by all 100 MB.
      let largest = 0;
      for (let i = 80; i < 1080; i++) {
        await database.direct.execute(sql`INSERT INTO "Artifact" ("id", "sha256", "sizeBytes", "format", "storageKey", "layout", "createdAt")
          VALUES (${`a${i}`}, ${String(i).padStart(64, "0")}, ${0n}, ${"onnx"}, ${"k"}, ${"z".repeat(100_000)}, ${new Date()})`);
        largest = Math.max(largest, fs.statSync(`${file}-wal`).size);
      }
      expect(largest).toBeLessThan(50_000_000);
    } finally {
      await database.close();
    }
    const reopened = new Database(file, { readonly: true });
    expect((reopened.prepare(`SELECT COUNT(*) AS n FROM "Artifact"`).get() as { n: number }).n).toBe(1080);
    reopened.close();
  });

  test("closing the database ends the thread and resolves with nothing else keeping the process alive", () => {
    // In a process of its own: there, an await on a thread that holds no reference would let the
    // process end quietly before close() returned (as a finished benchmark once did).
    const file = path.join(dir, "closing.db");
    const script = `require("./scripts/ts-hook");
      const { openDatabase } = require("./src/persistence/database");
      openDatabase(${JSON.stringify(`file:${file}`)}).then(async (db) => { await db.close(); console.log("closed"); });`;
    const out = execFileSync(process.execPath, ["-e", script], { cwd: path.join(__dirname, ".."), encoding: "utf8", timeout: 60_000 });
    expect(out.trim()).toBe("closed");
  });
});
