import type { Db } from "../persistence/database";

/**
 * RUNNING jobs whose runner stopped reporting: no heartbeat (progress, or the worker's own
 * beat) for longer than `lockMs`, the time a runner may hold a job without renewing it. A job
 * whose runner is alive is never among them.
 */
export async function staleRunningJobs(db: Db, lockMs: number, now = new Date(), limit = 500): Promise<string[]> {
  const rows = await db.job.findMany({ where: staleWhere(lockMs, now), orderBy: [{ createdAt: "asc" }, { id: "asc" }], select: { id: true }, take: limit });
  return rows.map((r) => r.id);
}

/**
 * Puts one stale RUNNING job back to QUEUED — only if it is still RUNNING and still stale, so
 * that of several processes reconciling at once, or a runner that reported in the meantime,
 * exactly one outcome wins. Returns whether this call re-queued it.
 */
export async function requeueIfStale(db: Db, jobId: string, lockMs: number, now = new Date()): Promise<boolean> {
  const { count } = await db.job.updateMany({ where: { id: jobId, ...staleWhere(lockMs, now) }, data: { status: "QUEUED", message: "re-queued: the process running it stopped reporting" } });
  return count === 1;
}

function staleWhere(lockMs: number, now: Date) {
  const cutoff = new Date(now.getTime() - lockMs);
  return { status: "RUNNING", OR: [{ heartbeatAt: { lt: cutoff } }, { heartbeatAt: null, createdAt: { lt: cutoff } }] };
}
