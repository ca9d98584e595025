import type { Db } from "../persistence/database";
import { joinSql, sql, type DirectQueries, type DirectSql } from "../persistence/directSql";
import { cuid } from "../persistence/cuid";
import { isUniqueViolation } from "./prismaErrors";
import type { CandidateRecipe } from "./mergeSearchPlanner";

/** Work rows per INSERT: five parameters each, well under SQLite's and PostgreSQL's limits. */
const ADD_ROWS = 500;

export interface WorkItem {
  key: string;
  recipe: CandidateRecipe;
  position: number;
}

/**
 * A search's candidates still to score, in the database (MergeSearchWork), so that any number of
 * processes score them side by side and none depends on Redis to know what is left. A process
 * claims a candidate with a conditional update (free, or its lease expired), renews its leases
 * while it works, and removes the row once the score row is written. A process that dies stops
 * renewing: after `leaseMs` its candidates are claimed again, computed again, and their score is
 * written once all the same (score rows are unique on search and key).
 *
 * What runs once per candidate (claim, the scored check, taking it off the list) goes straight
 * to the driver (persistence/directSql): through Prisma's query engine those statements cost a
 * small model's candidate more CPU than its merge (bench:search).
 */
export class MergeSearchWork {
  constructor(
    private readonly db: Db,
    private readonly direct: DirectSql,
    /** The claiming process's name (written as the lease's holder and the score row's worker). */
    readonly worker: string,
    private readonly leaseMs: number,
  ) {}

  /**
   * Adds the items not scored and not listed yet (a resumed search adds only what is missing), in
   * one transaction, ADD_ROWS rows a statement, straight to the driver: through Prisma, listing a
   * 100-candidate plan took 20–35 ms of a demo search's ~2 s, and its check of which keys were
   * listed already put every key in one IN list, past SQLite's parameter limit for a plan of a
   * thousand candidates. The check reads the search's keys instead (a plan is bounded).
   */
  async add(searchId: string, items: WorkItem[]): Promise<void> {
    if (!items.length) return;
    const present = await this.direct.query(sql`SELECT "key" FROM "MergeSearchWork" WHERE "searchId" = ${searchId}
      UNION ALL SELECT "key" FROM "MergeSearchCandidate" WHERE "searchId" = ${searchId}`);
    const skip = new Set(present.map((r) => r.key as string));
    const rows = items.filter((i) => !skip.has(i.key));
    if (!rows.length) return;
    const insert = (q: DirectQueries, part: WorkItem[]) =>
      q.execute(sql`INSERT INTO "MergeSearchWork" ("id", "searchId", "key", "position", "recipe")
        VALUES ${joinSql(part.map((i) => sql`(${cuid()}, ${searchId}, ${i.key}, ${i.position}, ${JSON.stringify(i.recipe)})`), ", ")}`);
    try {
      await this.direct.transaction(async (tx) => {
        for (let at = 0; at < rows.length; at += ADD_ROWS) await insert(tx, rows.slice(at, at + ADD_ROWS));
      });
    } catch (error) {
      // Another owner of the same search (a takeover racing a run that has not noticed it is
      // stale) listed some first: add the rest one by one.
      if (!isUniqueViolation(error)) throw error;
      for (const item of rows) await insert(this.direct, [item]).catch((e) => (isUniqueViolation(e) ? 0 : Promise.reject(e)));
    }
  }

  /** Claims the first free (or expired) item in plan order; null when none is free now. */
  async claim(searchId: string): Promise<WorkItem | null> {
    for (;;) {
      const now = new Date();
      const free = sql`("leaseUntil" IS NULL OR "leaseUntil" < ${now})`;
      // One statement: the first free row is chosen and leased, its condition checked again by the
      // UPDATE itself, so of processes racing for one row exactly one changes it (PostgreSQL
      // re-reads a row another transaction changed before applying the WHERE; SQLite writes one
      // at a time).
      const [row] = await this.direct.query(sql`UPDATE "MergeSearchWork" SET "worker" = ${this.worker}, "leaseUntil" = ${new Date(Date.now() + this.leaseMs)}
        WHERE "id" = (SELECT "id" FROM "MergeSearchWork" WHERE "searchId" = ${searchId} AND ${free} ORDER BY "position" ASC LIMIT 1) AND ${free}
        RETURNING "key", "position", "recipe"`);
      if (row) return { key: row.key as string, position: Number(row.position), recipe: (typeof row.recipe === "string" ? JSON.parse(row.recipe) : row.recipe) as CandidateRecipe };
      // Nothing free, or another process took the row chosen: look again only if one is free.
      const [any] = await this.direct.query(sql`SELECT "id" FROM "MergeSearchWork" WHERE "searchId" = ${searchId} AND ${free} LIMIT 1`);
      if (!any) return null;
    }
  }

  /** Whether the candidate has its score row already (a process that died before taking it off the list wrote it). */
  async isScored(searchId: string, key: string): Promise<boolean> {
    return (await this.direct.query(sql`SELECT "id" FROM "MergeSearchCandidate" WHERE "searchId" = ${searchId} AND "key" = ${key} LIMIT 1`)).length > 0;
  }

  /** Writes a candidate's score row (unique on search and key: a second write of one fails as a unique violation). */
  async writeScore(searchId: string, row: { key: string; position: number; recipe: CandidateRecipe; objective: number | null; audit: number | null; seconds: number; imageStats: Uint8Array }): Promise<void> {
    await this.direct.execute(sql`INSERT INTO "MergeSearchCandidate" ("id", "searchId", "key", "position", "recipe", "objective", "audit", "seconds", "imageStats", "worker", "createdAt")
      VALUES (${cuid()}, ${searchId}, ${row.key}, ${row.position}, ${JSON.stringify(row.recipe)}, ${row.objective}, ${row.audit}, ${row.seconds}, ${row.imageStats}, ${this.worker}, ${new Date()})`);
  }

  /** Score rows written for the search, by every process. */
  async scored(searchId: string): Promise<number> {
    return Number((await this.direct.query(sql`SELECT COUNT(*) AS "n" FROM "MergeSearchCandidate" WHERE "searchId" = ${searchId}`))[0]!.n);
  }

  /**
   * The scored rows a search's summary reads, in plan order: what it needs of each and nothing
   * more, straight from the driver (through Prisma's engine, 100 rows with their statistics took
   * longer than the bootstrap that reads them).
   */
  async summaryRows(searchId: string): Promise<Array<{ key: string; recipe: CandidateRecipe; objective: number | null; audit: number | null; imageStats: Uint8Array }>> {
    const rows = await this.direct.query(sql`SELECT "key", "recipe", "objective", "audit", "imageStats" FROM "MergeSearchCandidate" WHERE "searchId" = ${searchId} ORDER BY "position" ASC`);
    return rows.map((r) => ({
      key: r.key as string,
      recipe: (typeof r.recipe === "string" ? JSON.parse(r.recipe) : r.recipe) as CandidateRecipe,
      objective: r.objective === null ? null : Number(r.objective),
      audit: r.audit === null ? null : Number(r.audit),
      // SQLite's reader gives bytes; PostgreSQL's adapter gives them as an array of numbers.
      imageStats: r.imageStats instanceof Uint8Array ? r.imageStats : Uint8Array.from(r.imageStats as number[]),
    }));
  }

  /** Extends this process's leases on `keys` (called well within the lease). */
  async renew(searchId: string, keys: string[]): Promise<void> {
    if (!keys.length) return;
    await this.db.mergeSearchWork.updateMany({ where: { searchId, key: { in: keys }, worker: this.worker }, data: { leaseUntil: new Date(Date.now() + this.leaseMs) } });
  }

  /** The item is scored (its row written, by this process or an earlier one): off the list. */
  async done(searchId: string, key: string): Promise<void> {
    await this.direct.execute(sql`DELETE FROM "MergeSearchWork" WHERE "searchId" = ${searchId} AND "key" = ${key}`);
  }

  /** Gives an item back (this process could not score it): free for anyone at once. */
  async release(searchId: string, key: string): Promise<void> {
    await this.db.mergeSearchWork.updateMany({ where: { searchId, key, worker: this.worker }, data: { worker: null, leaseUntil: null } });
  }

  /** Items left, claimed or not. */
  left(searchId: string): Promise<number> {
    return this.db.mergeSearchWork.count({ where: { searchId } });
  }

  /** Items nobody holds a live lease on (the search stops at its time budget: they are not started). */
  async dropUnclaimed(searchId: string): Promise<void> {
    await this.db.mergeSearchWork.deleteMany({ where: { searchId, OR: [{ leaseUntil: null }, { leaseUntil: { lt: new Date() } }] } });
  }
}
