import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { hostname } from "node:os";
import type { Db } from "../persistence/database";
import { pidScope, processAlive } from "../jobs/processIdentity";

/**
 * A merge writes its output into a scratch folder beside the store's files before adopting it.
 * A process killed mid-merge (SIGKILL, OOM, power) leaves that folder — hundreds of MB — behind,
 * so each folder's name says who made it and for which run: `merge-<host>-<pid>-<jobId>-<attempt>`
 * (attempt 0: a worker that joined a merge search, not the job's owner).
 * Several processes, on several hosts, may share the folder (one artifact volume), so a process
 * removes only folders of its own host (and PID namespace: containers may share a host name), and
 * of those only the ones whose process is gone or whose attempt is over (the job ended, went back to the queue, or a later attempt started).
 */
export class MergeScratch {
  private readonly host = scratchHost();

  constructor(
    private readonly db: Db,
    private readonly dir: string,
  ) {}

  /** A fresh, empty folder for this process's run `attempt` of `jobId`. */
  async create(jobId: string, attempt: number): Promise<string> {
    const dir = path.join(this.dir, `merge-${this.host}-${process.pid}-${jobId}-${attempt}`);
    await fsp.mkdir(this.dir, { recursive: true });
    // Only a crash of this very run (same pid and attempt) could have left one; start afresh.
    await fsp.rm(dir, { recursive: true, force: true });
    await fsp.mkdir(dir);
    return dir;
  }

  /**
   * Removes the leftovers of dead runs on this host (all jobs, or only `jobId`'s when a job is
   * taken over); returns the folders removed. A live run's folder is never touched: its process
   * exists and its job row is RUNNING under its name with its attempt number.
   */
  async sweep(jobId?: string): Promise<string[]> {
    let names: string[];
    try {
      names = await fsp.readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
    const ours = names.map(parseScratchName).filter((s): s is ScratchName => s !== null && s.host === this.host && (!jobId || s.jobId === jobId));
    const alive = ours.filter((s) => processAlive(s.pid));
    const rows = alive.length
      ? await this.db.job.findMany({ where: { id: { in: [...new Set(alive.map((s) => s.jobId))] } }, select: { id: true, status: true, worker: true, attempts: true } })
      : [];
    const byId = new Map(rows.map((r) => [r.id, r]));
    const removed: string[] = [];
    for (const s of ours) {
      if (processAlive(s.pid)) {
        const job = byId.get(s.jobId);
        // Embedded runners name themselves by scope and pid, BullMQ workers by host name and pid.
        const runsIt = job?.worker === `${pidScope()}:${s.pid}` || job?.worker === `${hostname()}:${s.pid}`;
        // Attempt 0 is a worker that joined a merge search another process owns: its folder
        // lives as long as the process does and the search's job runs.
        const joined = s.attempt === 0 && job?.status === "RUNNING";
        const live = (job && job.status === "RUNNING" && job.attempts === s.attempt && runsIt) || joined;
        if (live) continue;
      }
      await fsp.rm(path.join(this.dir, s.name), { recursive: true, force: true });
      removed.push(s.name);
    }
    return removed;
  }
}

export interface ScratchName {
  name: string;
  host: string;
  pid: number;
  jobId: string;
  attempt: number;
}

/** `merge-<host>-<pid>-<jobId>-<attempt>` → its parts (the host may hold dashes); null for anything else. */
export function parseScratchName(name: string): ScratchName | null {
  const match = /^merge-(.+)-(\d+)-([A-Za-z0-9_]+)-(\d+)$/.exec(name);
  if (!match) return null;
  return { name, host: match[1], pid: Number(match[2]), jobId: match[3], attempt: Number(match[4]) };
}

/**
 * This process's host as it appears in a folder name: its pid scope (host name and PID namespace,
 * see processIdentity), in letters, digits, dots, dashes and underscores.
 */
export function scratchHost(): string {
  return pidScope().replace(/[^A-Za-z0-9.-]/g, "_") || "host";
}
