import * as fsp from "node:fs/promises";
import * as path from "node:path";
import type { Db } from "../persistence/database";
import { badInput, DomainError, notFound } from "../core/errors";
import { bestIndex, measureOf, objectiveValue, spearman, statsLength, sumStats, type ImageStats } from "../core/search";
import type { ArtifactStore } from "../storage/artifactStore";
import type { ThreadPool } from "../threads/threadPool";
import type { MergeModelRef, RunMergePayload } from "../threads/runMerge";
import type { JobContext, JobOutcome, JobProgress } from "../jobs/jobTypes";
import type { JobRunner } from "../jobs/jobRunner";
import type { MergeSearchJobPayload } from "../jobs/jobPayloads";
import type { ParsedModel } from "../core/structure/types";
import type { SearchImageSet } from "../runtime/search/searchImages";
import type { DatasetClass } from "./datasetService";
import type { MergeService } from "./mergeService";
import type { StructureCatalog } from "./structureCatalog";
import { confinePath, datasetRule } from "./pathConfinement";
import { formatSeconds } from "./format";
import { isUniqueViolation } from "./prismaErrors";
import { MergeScratch } from "./mergeScratch";
import { connectionFrom, decodeCursor, encodeCursor, pageSize } from "./pagination";
import { candidateKeys, planMergeSearch, type CandidateRecipe, type MergeSearchInput, type MergeSearchSettings } from "./mergeSearchPlanner";
import { evolveSchedules } from "./mergeSearchEvolution";

export type { MergeSearchJobPayload } from "../jobs/jobPayloads";

type CandidateRow = Awaited<ReturnType<Db["mergeSearchCandidate"]["findFirstOrThrow"]>>;

/**
 * Anchors up to this size are merged in memory: the candidate's bytes go to onnxruntime without a
 * scratch file written, read back and removed (on the demo pool's 0.5 MB models that round trip
 * cost 2–6 ms of a 90–130 ms candidate, bench:search-candidate). Larger ones go through scratch space, so a search of big models
 * holds one copy of a candidate (onnxruntime's) rather than two.
 */
const IN_MEMORY_MERGE_BYTES = 64 << 20;

/**
 * Merge search: plan candidates up front (startMergeSearch shows the plan's size and whether the
 * budget cut it), then in a MERGE_SEARCH job score every candidate without registering anything:
 * a merge is made in memory and handed to onnxruntime as bytes (written to scratch space and read
 * from there only for an anchor over IN_MEMORY_MERGE_BYTES or with external data), the images are decoded
 * once and shared by every candidate, and outputs are reduced to per-image statistics as they
 * come. Candidates run side by side on the worker threads; each score row is written once
 * (unique on search and candidate key), so a resumed job skips what is done.
 */
export class MergeSearchService {
  constructor(
    private readonly db: Db,
    private readonly store: ArtifactStore,
    private readonly pool: ThreadPool,
    private readonly catalog: StructureCatalog,
    private readonly merges: MergeService,
    private readonly jobs: () => JobRunner,
    /** How many candidates run at once (the worker threads). */
    private readonly concurrency: number,
    private readonly datasetRoots: readonly string[] = [],
  ) {
    this.scratch = new MergeScratch(db, store.scratchDir);
  }

  private readonly scratch: MergeScratch;

  async start(input: MergeSearchInput) {
    const { truncated, ...settings } = await planMergeSearch(this.db, this.catalog, this.merges, input);
    await this.datasetFolder(settings.objective.datasetId, "input.objective.datasetId");
    if (settings.audit) await this.datasetFolder(settings.audit.datasetId, "input.audit.datasetId");
    const job = await this.db.$transaction(async (tx) => {
      const j = await tx.job.create({ data: { kind: "MERGE_SEARCH", payload: {} as object, message: `queued: ${settings.plan.length} candidates${truncated ? " (cut at the budget)" : ""}` } });
      const search = await tx.mergeSearch.create({ data: { jobId: j.id, settings: settings as unknown as object, planned: settings.plan.length + (settings.evolutionBudget ?? 0), truncated } });
      return tx.job.update({ where: { id: j.id }, data: { payload: { searchId: search.id } satisfies MergeSearchJobPayload as object } });
    });
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

  /** The MERGE_SEARCH job handler. Resumable: candidates with a row are not computed again. */
  async run(payload: MergeSearchJobPayload, ctx: JobContext): Promise<JobOutcome> {
    const search = await this.db.mergeSearch.findUnique({ where: { id: payload.searchId } });
    if (!search) throw badInput(`merge search ${payload.searchId} was deleted`);
    const settings = search.settings as unknown as MergeSearchSettings;
    const releases: Array<() => Promise<void>> = [];
    // Merges are written beside the store's files, in a folder named as a merge job's: the
    // start-up sweep removes what a killed run of this host left, never a live run's.
    if (ctx.attempt > 1) await this.scratch.sweep(ctx.jobId).catch(() => []);
    let dir: string | null = null;
    try {
      ctx.progress(0, "decoding images");
      const spec = async (datasetId: string) => {
        const d = await this.db.dataset.findUniqueOrThrow({ where: { id: datasetId } });
        return { format: d.format as never, location: await this.datasetFolder(d.id), classes: d.classes as unknown as DatasetClass[], ignoreIndex: d.ignoreIndex, split: d.split };
      };
      const kind = settings.objective.kind;
      const objectiveSet = await this.pool.run("loadSearchImages", { spec: await spec(settings.objective.datasetId), limit: settings.objective.limit, labels: kind === "SCORE" }, { signal: ctx.signal });
      const auditSet = settings.audit ? await this.pool.run("loadSearchImages", { spec: await spec(settings.audit.datasetId), limit: settings.audit.limit, labels: true }, { signal: ctx.signal }) : null;
      const pool = await this.poolModels(settings, releases);
      let pseudoLabels: Uint16Array[] | undefined;
      if (kind === "ENSEMBLE_AGREEMENT") {
        ctx.progress(0, "ensemble pseudo-labels");
        pseudoLabels = await this.pool.run("ensembleLabels", { models: settings.modelIds.map((id) => pool.get(id)!).map((m) => ({ modelPath: m.ref.file!, contract: m.contract, activation: activationOf(m.contract) })), set: objectiveSet, numClasses: settings.numClasses }, { signal: ctx.signal });
      }
      const workDir = await this.scratch.create(ctx.jobId, ctx.attempt);
      dir = workDir;
      const done = new Set((await this.db.mergeSearchCandidate.findMany({ where: { searchId: search.id }, select: { key: true } })).map((r) => r.key));
      const todo = settings.plan.map((c, position) => ({ ...c, position })).filter((c) => !done.has(c.key));
      const planned = settings.plan.length + (settings.evolutionBudget ?? 0);
      const started = Date.now();
      let finished = done.size;
      let stoppedByTime = false;
      const outOfTime = () => {
        if (settings.budget.maxSeconds !== null && (Date.now() - started) / 1000 > settings.budget.maxSeconds) stoppedByTime = true;
        return stoppedByTime;
      };
      /** Scores `items` side by side on the worker threads; every one settles before this returns. */
      const runBatch = async (items: Array<{ key: string; recipe: CandidateRecipe; position: number }>) => {
        const queue = [...items];
        let failed = false;
        const worker = async () => {
          // A candidate's row is written while its thread already scores the next candidate:
          // the database round trip would otherwise leave the thread idle between candidates
          // (a tenth of a small model's candidate). Rows are written in order, one at a time.
          let recorded: Promise<void> = Promise.resolve();
          try {
            for (let c = queue.shift(); c && !failed && !outOfTime(); c = queue.shift()) {
              const candidate = c;
              const scores = await this.withSignal(ctx.signal, (signal) => this.pool.run("scoreSearchCandidate", this.candidatePayload(candidate.key, candidate.recipe, settings, pool, objectiveSet, auditSet, pseudoLabels, workDir), { signal }));
              await recorded;
              recorded = this.record(search.id, candidate, settings, scores).then(() => {
                finished++;
                const elapsed = Date.now() - started;
                const computed = finished - done.size;
                const eta = computed > 0 ? (elapsed / computed) * Math.max(0, planned - finished) : null;
                ctx.progress(Math.min(1, finished / planned), `${finished}/${planned} candidates${eta !== null ? `, eta ${formatSeconds(eta)}` : ""}`);
              });
              recorded.catch(() => undefined); // awaited before the next row and at the end
            }
          } finally {
            await recorded;
          }
        };
        // A cancelled search is removed only once no candidate row can still be on its way.
        const outcomes = await Promise.allSettled(
          Array.from({ length: Math.max(1, Math.min(this.concurrency, items.length)) }, () =>
            worker().catch((error) => {
              failed = true;
              throw error;
            }),
          ),
        );
        const rejected = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
        if (rejected) throw rejected.reason;
      };
      await runBatch(todo);
      if (settings.strategy === "EVOLUTION" && !outOfTime()) {
        const keyOf = await candidateKeys(this.catalog, this.merges, await this.db.model.findMany({ where: { id: { in: settings.modelIds } }, select: { id: true, structureId: true } }));
        await evolveSchedules({
          db: this.db,
          catalog: this.catalog,
          searchId: search.id,
          settings,
          keyOf,
          outOfTime,
          score: async (items) => {
            const known = new Set((await this.db.mergeSearchCandidate.findMany({ where: { searchId: search.id, key: { in: items.map((i) => i.key) } }, select: { key: true } })).map((r) => r.key));
            await runBatch(items.filter((i) => !known.has(i.key)));
          },
        });
      }
      const summary = await this.summarize(search.id, settings);
      const kept = await this.keep(search.id, settings, summary);
      const result = { ...summary, kept, stoppedByTime };
      await this.db.mergeSearch.update({ where: { id: search.id }, data: { result: result as object, finishedAt: new Date(), truncated: search.truncated || stoppedByTime } });
      return { result: { searchId: search.id, ...result }, message: summary.message + (stoppedByTime ? " (stopped at budget.maxSeconds)" : "") };
    } catch (error) {
      // A cancelled search leaves nothing: its candidate rows and the search go with it.
      if (ctx.signal.aborted) await this.db.mergeSearch.deleteMany({ where: { id: search.id } });
      throw error;
    } finally {
      if (dir) await fsp.rm(dir, { recursive: true, force: true });
      for (const release of releases) await release().catch(() => undefined);
    }
  }

  /** `fn` under a signal of its own that follows the job's: the pool's listener goes with it, not onto the job's signal once per candidate. */
  private async withSignal<T>(outer: AbortSignal, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const inner = new AbortController();
    const forward = () => inner.abort(outer.reason);
    if (outer.aborted) forward();
    outer.addEventListener("abort", forward, { once: true });
    try {
      return await fn(inner.signal);
    } finally {
      outer.removeEventListener("abort", forward);
    }
  }

  private async record(searchId: string, c: { key: string; recipe: CandidateRecipe; position: number }, settings: MergeSearchSettings, scores: { objective: ImageStats[]; audit: ImageStats[] | null; seconds: number }) {
    const measure = measureOf(settings.objective.kind, settings.metric);
    const auditMeasure = measureOf("SCORE", settings.metric);
    const length = statsLength(measure, settings.numClasses);
    const objective = objectiveValue(measure, sumStats(scores.objective, length), settings.numClasses);
    const audit = scores.audit ? objectiveValue(auditMeasure, sumStats(scores.audit, statsLength(auditMeasure, settings.numClasses)), settings.numClasses) : null;
    const bytes = new Float64Array(scores.objective.length * length);
    scores.objective.forEach((s, i) => bytes.set(s, i * length));
    try {
      await this.db.mergeSearchCandidate.create({
        data: { searchId, key: c.key, position: c.position, recipe: c.recipe as unknown as object, objective, audit, seconds: scores.seconds, imageStats: new Uint8Array(bytes.buffer) },
      });
    } catch (error) {
      // Computed twice (a worker taken over mid-candidate): the first row stands.
      if (!isUniqueViolation(error)) throw error;
    }
  }

  /** best, spearman, pickConfidence and the margin over the best single model, from the stored rows. */
  private async summarize(searchId: string, settings: MergeSearchSettings) {
    const rows: CandidateRow[] = await this.db.mergeSearchCandidate.findMany({ where: { searchId }, orderBy: { position: "asc" } });
    const measure = measureOf(settings.objective.kind, settings.metric);
    const length = statsLength(measure, settings.numClasses);
    const values = rows.map((r) => r.objective);
    const pick = bestIndex(values);
    const singles = rows.map((r, i) => ((r.recipe as unknown as CandidateRecipe).modelIds.length === 0 ? i : -1)).filter((i) => i >= 0);
    const bestSingle = singles.length ? singles[bestIndex(singles.map((i) => values[i]))] : -1;
    const both = rows.filter((r) => r.objective !== null && r.audit !== null);
    const rho = settings.audit ? spearman(both.map((r) => r.objective!), both.map((r) => r.audit!)) : null;
    // The bootstrap recomputes every candidate's objective 1,000 times: a worker thread's work.
    const blocks = rows.map((r) => new Float64Array(new Uint8Array(r.imageStats).buffer));
    const confidence = pick >= 0 ? await this.pool.run("searchPickConfidence", { kind: measure, classes: settings.numClasses, length, blocks, seed: settings.objective.seed }) : null;
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

  private async poolModels(settings: MergeSearchSettings, releases: Array<() => Promise<void>>) {
    const ids = [...settings.modelIds, ...(settings.baseModelId ? [settings.baseModelId] : [])];
    const rows = await this.db.model.findMany({ where: { id: { in: ids } }, include: { artifact: true } });
    const out = new Map<string, { ref: MergeModelRef; contract: never; inMemory: boolean }>();
    for (const m of rows) {
      if (!m.artifact || !m.structureId) throw badInput(`${m.name}@${m.version} lost its weights since the search was planned`);
      const local = await this.store.localPath(m.artifact.sha256);
      releases.push(() => local.release());
      const structure = await this.catalog.planModel(m.structureId);
      const layers = { count: structure.layerCount, byName: Object.fromEntries(structure.tensors.map((t) => [t.name, t.layerIndex])) };
      const layout = (m.artifact.layout as ParsedModel | null) ?? null;
      // External data is found beside the model file: such a merge must be a file.
      const external = !layout || layout.tensors.some((t) => t.location.kind === "raw" && t.location.file !== undefined);
      const inMemory = !external && (await fsp.stat(local.path)).size <= IN_MEMORY_MERGE_BYTES;
      out.set(m.id, { ref: { name: `${m.name}@${m.version}`, file: local.path, layout, layers }, contract: m.inference as never, inMemory });
    }
    return out;
  }

  private candidatePayload(key: string, r: CandidateRecipe, settings: MergeSearchSettings, pool: Map<string, { ref: MergeModelRef; contract: never; inMemory: boolean }>, objectiveSet: SearchImageSet, auditSet: SearchImageSet | null, pseudoLabels: Uint16Array[] | undefined, dir: string) {
    const anchor = pool.get(r.anchorId)!;
    const outFile = anchor.inMemory ? null : path.join(dir, `${key}.onnx`);
    const merge: RunMergePayload | null = r.modelIds.length === 0
      ? null
      : {
          anchor: anchor.ref,
          contributors: r.modelIds.map((id) => pool.get(id)!.ref),
          base: r.baseModelId ? pool.get(r.baseModelId)!.ref : null,
          recipe: { method: r.method!, schedule: r.schedule!, weights: r.weights, params: r.params ?? {} },
          outFile,
          // A file is read back by the candidate's session and removed right after: no fsync.
          scratch: true,
          metadata: {},
        };
    return {
      merge,
      score: {
        // A merge made in memory is named by its key in messages.
        modelPath: merge ? outFile ?? `merge ${key}` : anchor.ref.file!,
        contract: anchor.contract,
        activation: activationOf(anchor.contract),
        numClasses: settings.numClasses,
        metric: settings.metric ?? "MIOU",
        objective: { kind: settings.objective.kind, set: objectiveSet, draws: settings.draws ?? undefined, pseudoLabels },
        audit: auditSet,
      },
    };
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

/** The activation of the semantic score output the search reads (docs/CONVENTIONS.md, Merge search). */
function activationOf(contract: { outputs?: Array<{ kind: string; activation?: string }> }): "LOGITS" | "PROBS" {
  const out = (contract.outputs ?? []).find((o) => o.kind === "SEMANTIC_LOGITS" || o.kind === "PANOPTIC_SEMANTIC");
  return out?.activation === "PROBS" ? "PROBS" : "LOGITS";
}

function isSingle(row: { recipe: unknown }): boolean {
  return (row.recipe as CandidateRecipe).modelIds.length === 0;
}

export type { JobProgress };
