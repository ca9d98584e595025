import type { Db } from "../persistence/database";
import { badInput, notFound } from "../core/errors";
import { JOB_KINDS, JOB_STATUSES } from "../jobs/jobTypes";
import type { JobRunner } from "../jobs/jobRunner";
import type { JobEvents } from "../jobs/jobEvents";
import type { JobProgress, JobStatus } from "../jobs/jobTypes";
import { connectionFrom, decodeCursor, encodeCursor, keysetAfter, pageSize } from "./pagination";

export type JobRow = Awaited<ReturnType<Db["job"]["findFirstOrThrow"]>>;

export class JobService {
  constructor(private readonly db: Db, private readonly runner: () => JobRunner, private readonly events: JobEvents) {}

  /** Live updates of one job: its current state first, then every change until it ends. */
  async updates(id: string): Promise<AsyncIterable<JobProgress>> {
    if (!(await this.db.job.findUnique({ where: { id }, select: { id: true } }))) throw notFound("job", id, "id");
    return this.events.iterate(id, async () => {
      const job = await this.db.job.findUnique({ where: { id } });
      return job && { id: job.id, kind: job.kind, status: job.status as JobStatus, progress: job.progress, message: job.message, error: job.error };
    });
  }

  get(id: string) {
    return this.db.job.findUnique({ where: { id } });
  }

  async list(args: { status?: string[] | null; kind?: string | null; first?: number | null; after?: string | null }) {
    const first = pageSize(args.first);
    const cursor = decodeCursor(args.after);
    for (const s of args.status ?? []) if (!(JOB_STATUSES as readonly string[]).includes(s)) throw badInput(`unknown job status ${s}`, "status");
    if (args.kind && !(JOB_KINDS as readonly string[]).includes(args.kind)) throw badInput(`unknown job kind ${args.kind}`, "kind");
    const where = { ...(args.status?.length ? { status: { in: args.status } } : {}), ...(args.kind ? { kind: args.kind } : {}) };
    const [rows, totalCount] = await Promise.all([
      this.db.job.findMany({ where: { AND: [where, keysetAfter("createdAt", "desc", cursor, true)] }, orderBy: [{ createdAt: "desc" }, { id: "desc" }], take: first + 1 }),
      this.db.job.count({ where }),
    ]);
    return connectionFrom(rows, first, cursor !== null, totalCount, (j) => encodeCursor(j.createdAt.toISOString(), j.id));
  }

  /** Stops a queued or running job; a finished one is returned as it is. */
  async cancel(id: string): Promise<JobRow> {
    const job = await this.db.job.findUnique({ where: { id } });
    if (!job) throw notFound("job", id, "id");
    if (job.status === "QUEUED" || job.status === "RUNNING") await this.runner().cancel(id);
    const now = await this.db.job.findUniqueOrThrow({ where: { id } });
    // A cancelled search leaves nothing (a running one removes its rows itself as it stops).
    if (now.kind === "MERGE_SEARCH" && now.status === "CANCELLED") await this.db.mergeSearch.deleteMany({ where: { jobId: id } });
    return now;
  }
}
