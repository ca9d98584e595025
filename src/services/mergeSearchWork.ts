import type { Db } from "../persistence/database";
import { isUniqueViolation } from "./prismaErrors";
import type { CandidateRecipe } from "./mergeSearchPlanner";

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
 */
export class MergeSearchWork {
  constructor(
    private readonly db: Db,
    /** The claiming process's name (written as the lease's holder and the score row's worker). */
    readonly worker: string,
    private readonly leaseMs: number,
  ) {}

  /** Adds the items not scored and not listed yet (a resumed search adds only what is missing). */
  async add(searchId: string, items: WorkItem[]): Promise<void> {
    if (!items.length) return;
    const keys = items.map((i) => i.key);
    const [listed, scored] = await Promise.all([
      this.db.mergeSearchWork.findMany({ where: { searchId, key: { in: keys } }, select: { key: true } }),
      this.db.mergeSearchCandidate.findMany({ where: { searchId, key: { in: keys } }, select: { key: true } }),
    ]);
    const skip = new Set([...listed, ...scored].map((r) => r.key));
    const rows = items.filter((i) => !skip.has(i.key)).map((i) => ({ searchId, key: i.key, position: i.position, recipe: i.recipe as unknown as object }));
    try {
      await this.db.mergeSearchWork.createMany({ data: rows });
    } catch (error) {
      // Another owner of the same search (a takeover racing a run that has not noticed it is
      // stale) listed some first: add the rest one by one.
      if (!isUniqueViolation(error)) throw error;
      for (const data of rows) await this.db.mergeSearchWork.create({ data }).catch((e) => (isUniqueViolation(e) ? null : Promise.reject(e)));
    }
  }

  /** Claims the first free (or expired) item in plan order; null when none is free now. */
  async claim(searchId: string): Promise<WorkItem | null> {
    for (;;) {
      const now = new Date();
      const free = { OR: [{ leaseUntil: null }, { leaseUntil: { lt: now } }] };
      const rows = await this.db.mergeSearchWork.findMany({ where: { searchId, ...free }, orderBy: { position: "asc" }, take: 8, select: { id: true } });
      if (!rows.length) return null;
      for (const { id } of rows) {
        // The condition is checked again by the UPDATE itself: of processes racing for one row,
        // exactly one changes it.
        const won = await this.db.mergeSearchWork.updateMany({ where: { id, ...free }, data: { worker: this.worker, leaseUntil: new Date(Date.now() + this.leaseMs) } });
        if (won.count === 1) {
          const row = await this.db.mergeSearchWork.findUnique({ where: { id } });
          if (row) return { key: row.key, position: row.position, recipe: row.recipe as unknown as CandidateRecipe };
        }
      }
    }
  }

  /** Extends this process's leases on `keys` (called well within the lease). */
  async renew(searchId: string, keys: string[]): Promise<void> {
    if (!keys.length) return;
    await this.db.mergeSearchWork.updateMany({ where: { searchId, key: { in: keys }, worker: this.worker }, data: { leaseUntil: new Date(Date.now() + this.leaseMs) } });
  }

  /** The item is scored (its row written, by this process or an earlier one): off the list. */
  async done(searchId: string, key: string): Promise<void> {
    await this.db.mergeSearchWork.deleteMany({ where: { searchId, key } });
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
