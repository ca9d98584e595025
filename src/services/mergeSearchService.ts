import * as fsp from "node:fs/promises";
import type { Db } from "../persistence/database";
import { sql, type DirectSql } from "../persistence/directSql";
import { cuid } from "../persistence/cuid";
import { badInput, DomainError, notFound } from "../core/errors";
import { bestIndex, spearman } from "../core/search";
import type { ArtifactStore } from "../storage/artifactStore";
import type { ThreadPool } from "../threads/threadPool";
import type { JobContext, JobOutcome, JobProgress } from "../jobs/jobTypes";
import type { JobRunner } from "../jobs/jobRunner";
import type { MergeSearchJobPayload } from "../jobs/jobPayloads";
import type { MergeService } from "./mergeService";
import type { StructureCatalog } from "./structureCatalog";
import { confinePath, datasetRule } from "./pathConfinement";
import { formatSeconds } from "./format";
import { MergeScratch } from "./mergeScratch";
import { connectionFrom, decodeCursor, encodeCursor, pageSize } from "./pagination";
import { candidateKeys, planMergeSearch, type CandidateRecipe, type MergeSearchInput, type MergeSearchSettings } from "./mergeSearchPlanner";
import { evolveSchedules } from "./mergeSearchEvolution";
import { MergeSearchScorer, type SearchInputs } from "./mergeSearchScorer";
import { MergeSearchWork, type WorkItem } from "./mergeSearchWork";

/** How often a participant looks at the work list when it has nothing to claim. */
const POLL_MS = 250;
/** Progress reports while candidates are scored: at most one per this interval. */
const REPORT_MS = 100;
/** How long a joined worker stays with an empty work list (EVOLUTION lists a generation at a time). */
const JOIN_IDLE_MS = 2000;

export type { MergeSearchJobPayload } from "../jobs/jobPayloads";

/**
 * Merge search: plan candidates up front (startMergeSearch shows the plan's size and whether the
 * budget cut it), then in a MERGE_SEARCH job score every candidate without registering anything:
 * a merge is made in memory and handed to onnxruntime as bytes (written to scratch space and read
 * from there only for an anchor over IN_MEMORY_MERGE_BYTES or with external data), the images are decoded
 * once and shared by every candidate, and outputs are reduced to per-image statistics as they
 * come. Candidates run side by side on the threads of every process taking part: the job's owner
 * and, in the distributed shape, the workers that join it (run/join below, the work list in
 * MergeSearchWork). Each score row is written once (unique on search and candidate key), so a
 * candidate computed twice (its worker died) and a resumed job leave one row per candidate.
 */
export class MergeSearchService {
  constructor(
    private readonly db: Db,
    /**
     * The driver connection Prisma uses, for the statements run once per candidate
     * (MergeSearchWork) and the search's rows, whose settings hold the whole plan.
     */
    private readonly direct: DirectSql,
    private readonly store: ArtifactStore,
    private readonly pool: ThreadPool,
    private readonly catalog: StructureCatalog,
    private readonly merges: MergeService,
    private readonly jobs: () => JobRunner,
    /** How many candidates run at once in this process (its threads). */
    private readonly concurrency: number,
    private readonly datasetRoots: readonly string[] = [],
    /** This process's name on the candidates it claims and scores, and how long a claim lasts without renewal. */
    participant: { worker: string; leaseMs: number } = { worker: `pid:${process.pid}`, leaseMs: 30_000 },
  ) {
    this.scratch = new MergeScratch(db, store.scratchDir);
    this.work = new MergeSearchWork(db, direct, participant.worker, participant.leaseMs);
    this.scorer = new MergeSearchScorer(db, store, pool, catalog, this.work, concurrency, (id) => this.datasetFolder(id), Math.max(100, Math.floor(participant.leaseMs / 3)));
  }

  private readonly scratch: MergeScratch;
  private readonly work: MergeSearchWork;
  private readonly scorer: MergeSearchScorer;
  /** Searches this process takes part in (as owner or joined): one participation per process. */
  private readonly taking = new Set<string>();
  /**
   * Asks idle workers to join a search (the distributed shape; null embedded). Best effort: a
   * lost hint only means fewer helpers, the owner scores whatever nobody else does.
   */
  hints: ((searchId: string, jobId: string, delayMs: number) => Promise<void>) | null = null;

  async start(input: MergeSearchInput) {
    const { truncated, ...settings } = await planMergeSearch(this.db, this.catalog, this.merges, input);
    await this.datasetFolder(settings.objective.datasetId, "input.objective.datasetId");
    if (settings.audit) await this.datasetFolder(settings.audit.datasetId, "input.audit.datasetId");
    // The job and the search in one transaction, straight to the driver: through Prisma, the
    // settings of a 1,315-candidate plan (about a megabyte of JSON) held the API's event loop for
    // 160-190 ms, and a plan may have 10,000.
    const jobId = cuid();
    const searchId = cuid();
    const now = new Date();
    const payload: MergeSearchJobPayload = { searchId };
    await this.direct.transaction(async (tx) => {
      await tx.execute(sql`INSERT INTO "Job" ("id", "kind", "status", "progress", "message", "attempts", "payload", "cancelRequested", "createdAt")
        VALUES (${jobId}, ${"MERGE_SEARCH"}, ${"QUEUED"}, ${0}, ${`queued: ${settings.plan.length} candidates${truncated ? " (cut at the budget)" : ""}`}, ${0}, ${JSON.stringify(payload)}, ${false}, ${now})`);
      await tx.execute(sql`INSERT INTO "MergeSearch" ("id", "jobId", "settings", "planned", "truncated", "createdAt")
        VALUES (${searchId}, ${jobId}, ${JSON.stringify(settings)}, ${settings.plan.length + (settings.evolutionBudget ?? 0)}, ${truncated}, ${now})`);
    });
    const job = await this.db.job.findUniqueOrThrow({ where: { id: jobId } });
    await this.jobs().enqueue(job.id);
    return job;
  }

  get(id: string) {
    return this.db.mergeSearch.findUnique({ where: { id } });
  }

  byJob(jobId: string) {
    return this.db.mergeSearch.findUnique({ where: { jobId } });
  }

  async list(args: { first?: number | null; after?: string | null }) {
    const first = pageSize(args.first);
    const cursor = decodeCursor(args.after);
    const where = cursor ? { OR: [{ createdAt: { lt: new Date(String(cursor.value)) } }, { createdAt: new Date(String(cursor.value)), id: { lt: cursor.id } }] } : {};
    const [rows, totalCount] = await Promise.all([
      this.db.mergeSearch.findMany({ where, orderBy: [{ createdAt: "desc" }, { id: "desc" }], take: first + 1 }),
      this.db.mergeSearch.count(),
    ]);
    return connectionFrom(rows, first, cursor !== null, totalCount, (s) => encodeCursor(s.createdAt.toISOString(), s.id));
  }

  /** Scored candidates, best first by the objective (or the audit score), then plan order. */
  async candidates(searchId: string, args: { first?: number | null; after?: string | null; orderBy?: "OBJECTIVE" | "AUDIT" | null }) {
    const first = pageSize(args.first);
    const cursor = decodeCursor(args.after);
    const offset = cursor ? Number(cursor.value) + 1 : 0;
    const field = args.orderBy === "AUDIT" ? "audit" : "objective";
    const [rows, totalCount] = await Promise.all([
      this.db.mergeSearchCandidate.findMany({
        where: { searchId },
        orderBy: [{ [field]: { sort: "desc", nulls: "last" } }, { position: "asc" }],
        skip: offset,
        take: first + 1,
        omit: { imageStats: true },
      }),
      this.db.mergeSearchCandidate.count({ where: { searchId } }),
    ]);
    let i = offset;
    const ranked = rows.map((r) => ({ ...r, rank: ++i, isSingle: isSingle(r) }));
    return connectionFrom(ranked, first, cursor !== null, totalCount, (r) => encodeCursor(r.rank - 1, r.id));
  }

  /** One candidate with its rank by objective (higher objectives, then equal ones earlier in the plan, come first). */
  async candidateByKey(searchId: string, key: string) {
    const row = await this.db.mergeSearchCandidate.findUnique({ where: { searchId_key: { searchId, key } }, omit: { imageStats: true } });
    if (!row) return null;
    const ahead = row.objective === null
      ? await this.db.mergeSearchCandidate.count({ where: { searchId, OR: [{ objective: { not: null } }, { objective: null, position: { lt: row.position } }] } })
      : await this.db.mergeSearchCandidate.count({ where: { searchId, OR: [{ objective: { gt: row.objective } }, { objective: row.objective, position: { lt: row.position } }] } });
    return { ...row, rank: ahead + 1, isSingle: isSingle(row) };
  }

  /** Removes the search and its candidate rows; models it kept stay (they are registered models). */
  async delete(id: string): Promise<boolean> {
    const search = await this.db.mergeSearch.findUnique({ where: { id } });
    if (!search) throw notFound("merge search", id, "id");
    const job = await this.db.job.findUnique({ where: { id: search.jobId } });
    if (job && (job.status === "QUEUED" || job.status === "RUNNING")) throw new DomainError("CONFLICT", `merge search ${id} is ${job.status.toLowerCase()}; cancel its job first`, { field: "id" });
    await this.db.mergeSearch.delete({ where: { id } });
    return true;
  }

  /** A cancelled search's row goes, and with it its work list and candidate rows (whether its job ran or not). */
  async discard(searchId: string): Promise<void> {
    await this.db.mergeSearch.deleteMany({ where: { id: searchId } });
  }

  /**
   * The MERGE_SEARCH job handler, run by the search's owner. The plan goes to the search's work
   * list; the owner scores from it on its threads and asks idle workers to join (`hints`, the
   * distributed shape), then waits until every listed candidate is scored — by whoever — claiming
   * what a dead participant leaves once its lease expires. Resumable: candidates with a row are
   * not listed again.
   */
  async run(payload: MergeSearchJobPayload, ctx: JobContext): Promise<JobOutcome> {
    const search = await this.db.mergeSearch.findUnique({ where: { id: payload.searchId } });
    if (!search) throw badInput(`merge search ${payload.searchId} was deleted`);
    const settings = search.settings as unknown as MergeSearchSettings;
    // Merges are written beside the store's files, in a folder named as a merge job's: the
    // start-up sweep removes what a killed run of this host left, never a live run's.
    if (ctx.attempt > 1) await this.scratch.sweep(ctx.jobId).catch(() => []);
    let dir: string | null = null;
    let inputs: SearchInputs | null = null;
    /** Drops a progress report still waiting (none may follow the job's end). */
    let stopReports = () => undefined as void;
    this.taking.add(search.id);
    try {
      // The plan is listed and the workers invited before this process decodes its own images, so
      // joining workers prepare at the same time instead of a preparation later (on a short search
      // that lag is most of it).
      const gridItems: WorkItem[] = settings.plan.map((c, position) => ({ ...c, position }));
      await this.work.add(search.id, gridItems);
      if (this.hints && (await this.work.left(search.id)) > 0) await this.hints(search.id, ctx.jobId, 0).catch(() => undefined);
      ctx.progress(0, "decoding images");
      inputs = await this.scorer.prepare(settings, ctx.signal, (stage) => ctx.progress(0, stage));
      const workDir = await this.scratch.create(ctx.jobId, ctx.attempt);
      dir = workDir;
      const prepared = inputs;
      /** The bootstrap resamples of the candidates this process scores, by key (the rest are computed at the end). */
      const resampled = new Map<string, Float64Array>();
      const planned = settings.plan.length + (settings.evolutionBudget ?? 0);
      const doneAtStart = await this.db.mergeSearchCandidate.count({ where: { searchId: search.id } });
      const started = Date.now();
      let stoppedByTime = false;
      // The time budget counts from the first claim (after the images are decoded and the plan
      // listed), and stops nothing before this process has scored a candidate: a budget shorter
      // than one candidate still gives an answer.
      let clock: number | null = null;
      let scoredHere = false;
      const outOfTime = () => {
        if (settings.budget.maxSeconds !== null && clock !== null && scoredHere && (Date.now() - clock) / 1000 > settings.budget.maxSeconds) stoppedByTime = true;
        return stoppedByTime;
      };
      // Progress counts the rows every participant wrote: done / planned, with an ETA from the
      // rate since this run started.
      let reported = -1;
      const report = async () => {
        const finished = await this.work.scored(search.id);
        if (finished === reported) return;
        reported = finished;
        const computed = finished - doneAtStart;
        const eta = computed > 0 ? ((Date.now() - started) / computed) * Math.max(0, planned - finished) : null;
        ctx.progress(Math.min(1, finished / planned), `${finished}/${planned} candidates${eta !== null ? `, eta ${formatSeconds(eta)}` : ""}`);
      };
      // A scored candidate asks for a report; at most one runs per REPORT_MS (a count of the rows
      // and a progress event each: on small models, candidates finish faster than a progress bar
      // needs them, and that work shares the cores with the candidates).
      let lastReport = 0;
      let reportTimer: ReturnType<typeof setTimeout> | null = null;
      const reportSoon = () => {
        if (reportTimer) return;
        const wait = lastReport + REPORT_MS - Date.now();
        const run = () => {
          reportTimer = null;
          lastReport = Date.now();
          void report().catch(() => undefined);
        };
        if (wait <= 0) run();
        else reportTimer = setTimeout(run, wait);
      };
      stopReports = () => {
        if (reportTimer) clearTimeout(reportTimer);
        reportTimer = null;
      };
      const scored = () => {
        scoredHere = true;
        reportSoon();
      };
      /** Lists `items` (unless listed already), invites workers, and returns once every listed candidate is scored. */
      const scoreAll = async (items: WorkItem[], listed = false) => {
        if (!listed) {
          await this.work.add(search.id, items);
          if (this.hints && (await this.work.left(search.id)) > 0) await this.hints(search.id, ctx.jobId, 0).catch(() => undefined);
        }
        for (;;) {
          clock ??= Date.now();
          await this.scorer.scoreClaimed(search.id, settings, prepared, workDir, ctx.signal, outOfTime, scored, resampled);
          if (ctx.signal.aborted) throw cancelled();
          if (outOfTime()) await this.work.dropUnclaimed(search.id);
          if ((await this.work.left(search.id)) === 0) break;
          // The rest is leased by other processes: wait for their rows, or for their leases to
          // expire (they died) and claim those candidates again.
          await sleep(POLL_MS, ctx.signal);
          await report();
        }
        stopReports();
        await report();
      };
      await scoreAll(gridItems, true);
      if (settings.strategy === "EVOLUTION" && !outOfTime()) {
        const keyOf = await candidateKeys(this.catalog, this.merges, await this.db.model.findMany({ where: { id: { in: settings.modelIds }, deletedAt: null, artifactId: { not: null }, structureId: { not: null } }, select: { id: true, structureId: true, name: true, version: true } }));
        await evolveSchedules({ db: this.db, catalog: this.catalog, searchId: search.id, settings, keyOf, outOfTime, score: (items) => scoreAll(items) });
      }
      const summary = await this.summarize(search.id, settings, resampled);
      const kept = await this.keep(search.id, settings, summary);
      const result = { ...summary, kept, stoppedByTime };
      await this.db.mergeSearch.update({ where: { id: search.id }, data: { result: result as object, finishedAt: new Date(), truncated: search.truncated || stoppedByTime } });
      // Scratch folders that this search's participants on this host left when they died.
      await this.scratch.sweep(ctx.jobId).catch(() => []);
      return { result: { searchId: search.id, ...result }, message: summary.message + (stoppedByTime ? " (stopped at budget.maxSeconds)" : "") };
    } catch (error) {
      // A cancelled search leaves nothing: its candidate rows, its work list and the search go
      // with it (a joined worker's row arriving later finds no search and is dropped).
      if (ctx.signal.aborted) await this.discard(search.id);
      throw error;
    } finally {
      stopReports();
      this.taking.delete(search.id);
      if (dir) await fsp.rm(dir, { recursive: true, force: true });
      await inputs?.release();
    }
  }

  /**
   * A worker joins a running search that another process owns (a join hint): it prepares the
   * inputs once, scores from the work list on its own threads, and leaves when the list has been
   * empty for a while, the job stops running, or `signal` aborts (the job's cancel, or shutdown).
   * "already": this process takes part in the search already; "over": nothing is left to help with.
   */
  async join(searchId: string, signal: AbortSignal): Promise<"joined" | "already" | "over"> {
    const search = await this.db.mergeSearch.findUnique({ where: { id: searchId } });
    if (!search || search.finishedAt) return "over";
    const running = async () => {
      const job = await this.db.job.findUnique({ where: { id: search.jobId }, select: { status: true, cancelRequested: true } });
      return job?.status === "RUNNING" && !job.cancelRequested;
    };
    if (!(await running()) || (await this.work.left(searchId)) === 0) return "over";
    if (this.taking.has(searchId)) return "already";
    this.taking.add(searchId);
    const settings = search.settings as unknown as MergeSearchSettings;
    let dir: string | null = null;
    let inputs: SearchInputs | null = null;
    try {
      // Another idle worker may join too: hints travel on from worker to worker while work is left.
      await this.hints?.(searchId, search.jobId, 0).catch(() => undefined);
      inputs = await this.scorer.prepare(settings, signal);
      // Attempt 0 names a joined worker's folder, which the sweep keeps while its process lives and the job runs.
      dir = await this.scratch.create(search.jobId, 0);
      let stopped = false;
      let idleSince = Date.now();
      while (!signal.aborted && !stopped) {
        const scored = await this.scorer.scoreClaimed(searchId, settings, inputs, dir, signal, () => stopped, () => undefined);
        if (scored > 0) idleSince = Date.now();
        stopped = !(await running());
        // Between an EVOLUTION search's generations the list is empty for a moment: stay a while.
        if ((await this.work.left(searchId)) === 0 && Date.now() - idleSince > JOIN_IDLE_MS) break;
        await sleep(POLL_MS, signal).catch(() => undefined);
      }
      return "joined";
    } finally {
      this.taking.delete(searchId);
      if (dir) await fsp.rm(dir, { recursive: true, force: true });
      await inputs?.release();
    }
  }

  /** best, spearman, pickConfidence and the margin over the best single model, from the stored rows. */
  private async summarize(searchId: string, settings: MergeSearchSettings, resampled: ReadonlyMap<string, Float64Array>) {
    const rows = await this.work.summaryRows(searchId);
    const values = rows.map((r) => r.objective);
    const pick = bestIndex(values);
    const singles = rows.map((r, i) => ((r.recipe as unknown as CandidateRecipe).modelIds.length === 0 ? i : -1)).filter((i) => i >= 0);
    const bestSingle = singles.length ? singles[bestIndex(singles.map((i) => values[i]))] : -1;
    const both = rows.filter((r) => r.objective !== null && r.audit !== null);
    const rho = settings.audit ? spearman(both.map((r) => r.objective!), both.map((r) => r.audit!)) : null;
    const confidence = pick >= 0 ? await this.scorer.pickConfidence(rows, pick, resampled, settings) : null;
    const best = pick >= 0 ? rows[pick] : null;
    const pickIsSingle = best ? (best.recipe as unknown as CandidateRecipe).modelIds.length === 0 : false;
    const margin = best && bestSingle >= 0 && rows[bestSingle].objective !== null ? best.objective! - rows[bestSingle].objective! : null;
    const message = best
      ? `${rows.length} candidates scored; ${pickIsSingle ? "the pick is a single model: keep it, do not merge" : "the pick is a merge"} (objective ${best.objective!.toPrecision(6)}, ${((confidence?.confidence ?? 0) * 100).toFixed(1)}% of bootstrap resamples agree)`
      : `${rows.length} candidates scored; none has an objective`;
    return { bestKey: best?.key ?? null, bestSingleKey: bestSingle >= 0 ? rows[bestSingle].key : null, pickIsSingle, spearman: rho, pickConfidence: confidence?.confidence ?? null, marginVsBestSingle: margin, message };
  }

  /** Registers what `keep` asks for through startMerge (the merge runs as its own MERGE job); a single-model pick writes nothing. */
  private async keep(searchId: string, settings: MergeSearchSettings, summary: { bestKey: string | null; pickIsSingle: boolean }) {
    if (settings.keep === "NONE" || !summary.bestKey) return { jobIds: [] as string[], note: "keep NONE: nothing written" };
    const top = await this.db.mergeSearchCandidate.findMany({ where: { searchId, objective: { not: null } }, orderBy: [{ objective: "desc" }, { position: "asc" }], take: settings.topK, omit: { imageStats: true } });
    const jobIds: string[] = [];
    const notes: string[] = [];
    for (const [i, c] of top.entries()) {
      const r = c.recipe as unknown as CandidateRecipe;
      if (r.modelIds.length === 0) {
        notes.push(`rank ${i + 1} is the single model ${r.anchorId}: keep it as it is (nothing written)`);
        continue;
      }
      const name = settings.output.namePrefix ? `${settings.output.namePrefix}-${i + 1}` : null;
      const job = await this.merges.start({ anchorId: r.anchorId, modelIds: r.modelIds, method: r.method, schedule: r.schedule, weights: r.weights, params: r.params ?? null, baseModelId: r.baseModelId, output: { name, tags: settings.output.tags }, searchId, evaluateOn: this.keptEvaluations(settings) });
      jobIds.push(job.id);
    }
    return { jobIds, note: notes.join("; ") || `${jobIds.length} merge(s) queued` };
  }

  /** Kept models are evaluated on the audit dataset and on SCORE's (as evaluation does, full split). */
  private keptEvaluations(settings: MergeSearchSettings): string[] {
    const ids = [...(settings.audit ? [settings.audit.datasetId] : []), ...(settings.objective.kind === "SCORE" ? [settings.objective.datasetId] : [])];
    return [...new Set(ids)];
  }

  private async datasetFolder(datasetId: string, field?: string): Promise<string> {
    const d = await this.db.dataset.findUniqueOrThrow({ where: { id: datasetId } });
    try {
      return await confinePath(d.location, datasetRule(this.datasetRoots, field ?? "input.datasetId"));
    } catch (error) {
      if (error instanceof DomainError) throw new DomainError(error.code, `dataset ${d.name} (${d.split}): ${error.message}`, { field });
      throw error;
    }
  }
}

function isSingle(row: { recipe: unknown }): boolean {
  return (row.recipe as CandidateRecipe).modelIds.length === 0;
}

export type { JobProgress };

/** What a job handler throws when its signal aborts (the job runner records CANCELLED, or leaves it to run again on shutdown). */
function cancelled(): DomainError {
  return new DomainError("CANCELLED", "cancelled");
}

/** Resolves after `ms`, or rejects with `cancelled()` at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(cancelled());
    const onAbort = () => {
      clearTimeout(timer);
      reject(cancelled());
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
