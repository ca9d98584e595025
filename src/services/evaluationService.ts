import { createHash } from "node:crypto";
import type { Db } from "../persistence/database";
import { badInput, DomainError, notFound } from "../core/errors";
import type { ArtifactStore } from "../storage/artifactStore";
import type { ThreadPool } from "../workers/threadPool";
import type { JobContext, JobOutcome } from "../jobs/jobTypes";
import type { JobRunner } from "../jobs/embeddedJobRunner";
import type { EvaluationResult } from "../runtime";
import type { DatasetClass } from "./datasetService";
import { checkInferenceContract, InferenceContractInput } from "./inferenceContract";
import { connectionFrom, decodeCursor, encodeCursor, pageSize } from "./pagination";
import { formatSeconds } from "./format";
import { confinePath, datasetRule } from "./pathConfinement";

export interface StartEvaluationInput {
  modelId: string;
  datasetId: string;
  /** Evaluate only the first `limit` images (not canonical). */
  limit?: number | null;
  batchSize?: number | null;
  /** Class subset for mIoU (e.g. SYNTHIA → Cityscapes 16 or 13 classes; not canonical). */
  classes?: number[] | null;
  force?: boolean | null;
}

export interface EvaluationJobPayload {
  modelId: string;
  datasetId: string;
  settingsHash: string;
  settings: EvaluationSettingsRecord;
  batchSize: number;
}

/** What the settings hash covers: everything that can change the numbers (not the batch size). */
interface EvaluationSettingsRecord {
  artifactSha256: string;
  datasetChecksum: string | null;
  contract: unknown;
  limit: number | null;
  classes: number[] | null;
  task: "SEMANTIC" | "PANOPTIC";
}

export type EvaluationRow = Awaited<ReturnType<Db["evaluation"]["findFirstOrThrow"]>>;

/**
 * Evaluations: checked up front, run as jobs in a worker thread with onnxruntime,
 * stored unrounded. The canonical score of a model on a dataset — its latest full-split,
 * default-settings evaluation — is kept in ModelScore for leaderboards and sorting.
 */
export class EvaluationService {
  constructor(
    private readonly db: Db,
    private readonly store: ArtifactStore,
    private readonly pool: ThreadPool,
    private readonly jobs: () => JobRunner,
    /** LAYERMERGE_DATASET_ROOTS, checked again here: a dataset recorded before they existed may lie anywhere. */
    private readonly datasetRoots: readonly string[] = [],
  ) {}

  /** The dataset's folder as it will be read, or FORBIDDEN when it lies outside the dataset roots. */
  private async datasetFolder(dataset: { name: string; split: string; location: string }, field?: string): Promise<string> {
    try {
      return await confinePath(dataset.location, datasetRule(this.datasetRoots, "input.datasetId"));
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      const hint = error.code === "FORBIDDEN" ? "; add its folder to LAYERMERGE_DATASET_ROOTS to evaluate on it" : "";
      throw new DomainError(error.code, `dataset ${dataset.name} (${dataset.split}): ${error.message.replace(/^input\.datasetId /, "location ")}${hint}`, { field });
    }
  }

  async start(input: StartEvaluationInput) {
    const model = await this.db.model.findUnique({ where: { id: input.modelId }, include: { artifact: true, task: true } });
    if (!model || model.deletedAt) throw badInput(`input.modelId ${JSON.stringify(input.modelId)} is not a live model`, "input.modelId");
    if (!model.artifact) throw badInput(`${model.name}@${model.version} has no registered weights to evaluate`, "input.modelId");
    if (model.artifact.format !== "onnx") throw badInput(`${model.name}@${model.version} is ${model.artifact.format}; evaluation runs ONNX models (register an ONNX export)`, "input.modelId");
    if (!model.inference) throw badInput(`${model.name}@${model.version} has no inference contract; set it with updateModel(input: { inference })`, "input.modelId");
    const dataset = await this.db.dataset.findUnique({ where: { id: input.datasetId } });
    if (!dataset) throw badInput(`input.datasetId ${JSON.stringify(input.datasetId)} does not exist`, "input.datasetId");
    if (dataset.format === "IMAGES") throw badInput(`${dataset.name} (${dataset.split}) is an IMAGES dataset without labels; evaluation needs a labelled dataset (label-free criteria are merge search objectives)`, "input.datasetId");
    const task = model.task.kind === "PANOPTIC" ? "PANOPTIC" : model.task.kind === "SEMANTIC" ? "SEMANTIC" : null;
    if (!task) throw badInput(`evaluation of ${model.task.kind} models is not supported (SEMANTIC and PANOPTIC are)`, "input.modelId");
    if (task === "PANOPTIC" && dataset.format !== "COCO_PANOPTIC") throw badInput(`a panoptic model needs a COCO_PANOPTIC dataset; ${dataset.name} is ${dataset.format}`, "input.datasetId");
    await this.datasetFolder(dataset, "input.datasetId");
    if (input.limit != null && (!Number.isInteger(input.limit) || input.limit < 1)) throw badInput("input.limit must be a positive integer", "input.limit");
    const batchSize = input.batchSize ?? 1;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 64) throw badInput("input.batchSize must be an integer from 1 to 64", "input.batchSize");
    const classIds = new Set((dataset.classes as unknown as DatasetClass[]).map((c) => c.id));
    const classes = input.classes ? [...new Set(input.classes)].sort((a, b) => a - b) : null;
    classes?.forEach((c, i) => {
      if (!classIds.has(c)) throw badInput(`input.classes.${i}: class ${c} is not in ${dataset.name}'s class list`, `input.classes.${i}`);
    });
    const contract = checkInferenceContract(model.inference as InferenceContractInput, "model.inference");
    const settings: EvaluationSettingsRecord = {
      artifactSha256: model.artifact.sha256,
      datasetChecksum: dataset.checksum,
      contract,
      limit: input.limit ?? null,
      classes,
      task,
    };
    const settingsHash = createHash("sha256").update(JSON.stringify(settings)).digest("hex");
    if (!input.force) {
      const stored = await this.db.evaluation.findFirst({ where: { modelId: model.id, datasetId: dataset.id, settingsHash, external: false }, orderBy: { createdAt: "desc" } });
      if (stored) {
        return this.db.job.create({
          data: {
            kind: "EVALUATE", status: "SUCCEEDED", progress: 1, startedAt: new Date(), finishedAt: new Date(),
            payload: { modelId: model.id, datasetId: dataset.id, settingsHash } as object,
            result: { evaluationId: stored.id, modelId: model.id, reused: true },
            message: `returning the stored evaluation from ${stored.createdAt.toISOString()} (same model, dataset and settings; force: true runs it again)`,
          },
        });
      }
    }
    const payload: EvaluationJobPayload = { modelId: model.id, datasetId: dataset.id, settingsHash, settings, batchSize };
    const job = await this.db.job.create({ data: { kind: "EVALUATE", payload: payload as unknown as object, message: "queued" } });
    await this.jobs().enqueue(job.id);
    return job;
  }

  /** The EVALUATE job handler; idempotent (a job that stored its evaluation returns it). */
  async run(payload: EvaluationJobPayload, ctx: JobContext): Promise<JobOutcome> {
    const done = await this.db.evaluation.findFirst({ where: { jobId: ctx.jobId } });
    if (done) return { result: { evaluationId: done.id, modelId: done.modelId }, message: `score ${percent(done.score)}` };
    const model = await this.db.model.findUniqueOrThrow({ where: { id: payload.modelId }, include: { artifact: true } });
    const dataset = await this.db.dataset.findUniqueOrThrow({ where: { id: payload.datasetId } });
    if (model.artifact?.sha256 !== payload.settings.artifactSha256) throw badInput("the model's artifact changed since the evaluation was queued");
    const folder = await this.datasetFolder(dataset);
    const local = await this.store.localPath(model.artifact.sha256);
    try {
      ctx.progress(0, "starting");
      const result: EvaluationResult = await this.pool.run(
        "evaluate",
        {
          modelPath: local.path,
          contract: payload.settings.contract as never,
          dataset: { format: dataset.format as never, location: folder, classes: dataset.classes as never, ignoreIndex: dataset.ignoreIndex, split: dataset.split },
          task: payload.settings.task,
          limit: payload.settings.limit ?? undefined,
          batchSize: payload.batchSize,
          classes: payload.settings.classes ?? undefined,
        },
        {
          signal: ctx.signal,
          onProgress: (p) => {
            const { done, total, etaMs } = p as { done: number; total: number; etaMs: number | null };
            ctx.progress(total ? done / total : 0, `${done}/${total} images${etaMs != null ? `, eta ${formatSeconds(etaMs)}` : ""}`);
          },
        },
      );
      if (ctx.signal.aborted) throw new DomainError("CANCELLED", "cancelled");
      const evaluation = await this.store_(payload, result, ctx.jobId);
      const notes = result.notes.length ? ` (${result.notes.join("; ")})` : "";
      return {
        result: { evaluationId: evaluation.id, modelId: model.id, score: result.score },
        message: `${payload.settings.task === "PANOPTIC" ? "PQ" : "mIoU"} ${percent(result.score)} over ${result.images} images in ${formatSeconds(result.durationMs)}${notes}`,
      };
    } finally {
      await local.release();
    }
  }

  private async store_(payload: EvaluationJobPayload, result: EvaluationResult, jobId: string) {
    const canonical = payload.settings.limit == null && payload.settings.classes == null;
    return this.db.$transaction(async (tx) => {
      const evaluation = await tx.evaluation.create({
        data: {
          modelId: payload.modelId,
          datasetId: payload.datasetId,
          settingsHash: payload.settingsHash,
          settings: { ...payload.settings, runtime: result.settings, notes: result.notes } as unknown as object,
          canonical,
          score: result.score,
          metrics: result.metrics as unknown as object,
          perClass: result.perClass as unknown as object,
          images: result.images,
          durationMs: Math.round(result.durationMs),
          jobId,
        },
      });
      if (canonical) await this.setScore(tx as unknown as Db, payload.modelId, payload.datasetId, result.score, evaluation.id);
      return evaluation;
    });
  }

  private async setScore(tx: Db, modelId: string, datasetId: string, score: number, evaluationId: string) {
    await tx.modelScore.upsert({
      where: { modelId_datasetId: { modelId, datasetId } },
      create: { modelId, datasetId, score, evaluationId },
      update: { score, evaluationId },
    });
  }

  /** A score computed elsewhere, stored as external with its provenance; it becomes the canonical score. */
  async record(input: { modelId: string; datasetId: string; score: number; metrics?: Record<string, unknown> | null; source: string }) {
    const model = await this.db.model.findUnique({ where: { id: input.modelId } });
    if (!model || model.deletedAt) throw badInput(`input.modelId ${JSON.stringify(input.modelId)} is not a live model`, "input.modelId");
    if (!(await this.db.dataset.findUnique({ where: { id: input.datasetId }, select: { id: true } }))) throw badInput(`input.datasetId ${JSON.stringify(input.datasetId)} does not exist`, "input.datasetId");
    if (!Number.isFinite(input.score) || input.score < 0 || input.score > 1) throw badInput(`input.score must be a fraction from 0 to 1 (got ${input.score}); 0.523 means 52.3 %`, "input.score");
    const source = (input.source ?? "").trim();
    if (!source) throw badInput("input.source must say where the score comes from (a paper, a run, a tool)", "input.source");
    return this.db.$transaction(async (tx) => {
      const evaluation = await tx.evaluation.create({
        data: {
          modelId: model.id, datasetId: input.datasetId, settingsHash: "external", canonical: true, score: input.score,
          metrics: (input.metrics ?? {}) as object, perClass: [], external: true, source,
        },
      });
      await this.setScore(tx as unknown as Db, model.id, input.datasetId, input.score, evaluation.id);
      return evaluation;
    });
  }

  get(id: string) {
    return this.db.evaluation.findUnique({ where: { id } });
  }

  forModel(modelId: string, datasetId?: string | null) {
    return this.db.evaluation.findMany({ where: { modelId, ...(datasetId ? { datasetId } : {}) }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
  }

  /** Models ranked by canonical score on a dataset (ties by model id), deleted models left out. */
  async leaderboard(args: { datasetId: string; first?: number | null; after?: string | null }) {
    const first = pageSize(args.first);
    const cursor = decodeCursor(args.after);
    if (!(await this.db.dataset.findUnique({ where: { id: args.datasetId }, select: { id: true } }))) throw badInput(`datasetId ${JSON.stringify(args.datasetId)} does not exist`, "datasetId");
    const where = { datasetId: args.datasetId, model: { deletedAt: null } };
    const after = cursor ? { OR: [{ score: { lt: Number(cursor.value) } }, { score: Number(cursor.value), modelId: { gt: cursor.id } }] } : {};
    const [rows, totalCount, rankBase] = await Promise.all([
      this.db.modelScore.findMany({ where: { AND: [where, after] }, orderBy: [{ score: "desc" }, { modelId: "asc" }], take: first + 1 }),
      this.db.modelScore.count({ where }),
      cursor ? this.db.modelScore.count({ where: { AND: [where, { OR: [{ score: { gt: Number(cursor.value) } }, { score: Number(cursor.value), modelId: { lte: cursor.id } }] }] } }) : Promise.resolve(0),
    ]);
    const ranked = rows.map((r, i) => ({ ...r, rank: rankBase + i + 1 }));
    return connectionFrom(ranked, first, cursor !== null, totalCount, (r) => encodeCursor(r.score, r.modelId));
  }

  /** A merged model's score minus each parent's, and minus the best parent's (negative when the merge is worse). */
  async gain(mergeId: string, datasetId: string) {
    const merge = await this.db.merge.findUnique({ where: { id: mergeId }, include: { inputs: { where: { role: { in: ["ANCHOR", "CONTRIBUTOR"] } }, orderBy: { position: "asc" } } } });
    if (!merge) throw notFound("merge", mergeId);
    const ids = [merge.outputModelId!, ...merge.inputs.map((i) => i.modelId)];
    const scores = await this.db.modelScore.findMany({ where: { datasetId, modelId: { in: ids } } });
    const byModel = new Map(scores.map((s) => [s.modelId, s.score]));
    const own = byModel.get(merge.outputModelId!) ?? null;
    const perParent = merge.inputs.map((i) => {
      const parent = byModel.get(i.modelId);
      return { modelId: i.modelId, score: parent ?? null, delta: own != null && parent != null ? own - parent : null };
    });
    const parentScores = perParent.map((p) => p.score).filter((s): s is number => s != null);
    const best = parentScores.length ? Math.max(...parentScores) : null;
    return { datasetId, score: own, bestParentScore: best, vsBestParent: own != null && best != null ? own - best : null, perParent };
  }
}

function percent(score: number | null): string {
  return score == null ? "—" : `${(score * 100).toFixed(2)}%`;
}
