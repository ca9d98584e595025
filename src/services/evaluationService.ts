import { createHash } from "node:crypto";
import * as fsp from "node:fs/promises";
import type { Db } from "../persistence/database";
import { badInput, DomainError, notFound } from "../core/errors";
import type { ArtifactStore } from "../storage/artifactStore";
import type { ThreadPool } from "../threads/threadPool";
import type { JobContext, JobOutcome } from "../jobs/jobTypes";
import type { EvaluationJobPayload, EvaluationSettingsRecord } from "../jobs/jobPayloads";
import type { JobRunner } from "../jobs/jobRunner";
import type { EvaluationResult } from "../runtime";
import type { LayerOrderSource } from "../core/structure/types";
import type { DatasetClass } from "./datasetService";
import { checkInferenceContract, InferenceContractInput } from "./inferenceContract";
import { assertContractComplete, type ContractProvenance } from "./contractFromFile";
import { connectionFrom, decodeCursor, encodeCursor, pageSize } from "./pagination";
import { formatSeconds } from "./format";
import { confinePath, datasetRule } from "./pathConfinement";
import { MergeScratch } from "./mergeScratch";
import type { ModelReads } from "./modelReads";
import type { Loaders } from "./loaders";

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

export type EvaluationRow = Awaited<ReturnType<Db["evaluation"]["findFirstOrThrow"]>>;

/**
 * Evaluations: checked up front, run as jobs in a pool thread with onnxruntime,
 * stored unrounded. The canonical score of a model on a dataset — its latest full-split,
 * default-settings evaluation — is kept in ModelScore for leaderboards and sorting.
 */
export class EvaluationService {
  /** Checkpoints are written into their graph here (folders named as merges', swept alike). */
  private readonly scratch: MergeScratch;

  constructor(
    private readonly db: Db,
    private readonly store: ArtifactStore,
    private readonly pool: ThreadPool,
    private readonly jobs: () => JobRunner,
    /** LAYERMERGE_DATASET_ROOTS, checked again here: a dataset recorded before they existed may lie anywhere. */
    private readonly datasetRoots: readonly string[] = [],
    private readonly reads?: ModelReads,
  ) {
    this.scratch = new MergeScratch(db, store.scratchDir);
  }

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
    const graph = model.artifact.format === "onnx" ? null : await this.graphOf(model as typeof model & { artifact: { format: string } });
    const inference = model.inference ?? graph?.inference;
    if (!inference) throw badInput(`${model.name}@${model.version} has no inference contract${graph ? ` (nor has its graph model ${graph.name}@${graph.version})` : ""}; set it with updateModel(input: { inference })`, "input.modelId");
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
    assertContractComplete(inference as ContractProvenance, `${model.name}@${model.version}`);
    const contract = checkInferenceContract(inference as InferenceContractInput, "model.inference");
    const settings: EvaluationSettingsRecord = {
      artifactSha256: model.artifact.sha256,
      // Only for checkpoints, so that an ONNX model's settings hash stays what it was.
      ...(graph ? { graphArtifactSha256: graph.artifact!.sha256 } : {}),
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

  /**
   * The graph a checkpoint (any format but ONNX) is evaluated through: its graphModelId, a live
   * ONNX model. Its contract is used when the checkpoint has none.
   */
  private async graphOf(model: { name: string; version: string; graphModelId: string | null; artifact: { format: string } }) {
    const label = `${model.name}@${model.version}`;
    if (!model.graphModelId) {
      throw badInput(`${label} is a ${model.artifact.format} checkpoint and has no graph to run: set graphModelId to an ONNX model of its architecture (its export) with updateModel(input: { graphModelId })`, "input.modelId");
    }
    const graph = await this.db.model.findUnique({ where: { id: model.graphModelId }, include: { artifact: true } });
    if (!graph || graph.deletedAt) throw badInput(`${label}'s graph model ${JSON.stringify(model.graphModelId)} is no longer a live model; set another graphModelId`, "input.modelId");
    if (graph.artifact?.format !== "onnx") throw badInput(`${label}'s graph model ${graph.name}@${graph.version} is not an ONNX model`, "input.modelId");
    return graph;
  }

  /** A checkpoint's tensor order as registered (a given layerOrder applied), for mapping by position. */
  private async registeredOrder(structureId: string | null) {
    if (!structureId) return undefined;
    const structure = await this.db.structure.findUnique({ where: { id: structureId }, select: { layerOrderSource: true } });
    if (!structure) return undefined;
    const tensors = await this.db.structureTensor.findMany({ where: { structureId }, select: { name: true }, orderBy: { position: "asc" } });
    return { names: tensors.map((t) => t.name), source: structure.layerOrderSource as LayerOrderSource };
  }

  /** The EVALUATE job handler; idempotent (a job that stored its evaluation returns it). */
  async run(payload: EvaluationJobPayload, ctx: JobContext): Promise<JobOutcome> {
    const done = await this.db.evaluation.findFirst({ where: { jobId: ctx.jobId } });
    if (done) return { result: { evaluationId: done.id, modelId: done.modelId }, message: `score ${percent(done.score)}` };
    const model = await this.db.model.findUniqueOrThrow({ where: { id: payload.modelId }, include: { artifact: true } });
    const dataset = await this.db.dataset.findUniqueOrThrow({ where: { id: payload.datasetId } });
    if (model.artifact?.sha256 !== payload.settings.artifactSha256) throw badInput("the model's artifact changed since the evaluation was queued");
    const folder = await this.datasetFolder(dataset);
    const graphSha = payload.settings.graphArtifactSha256;
    const local = await this.store.localPath(model.artifact.sha256);
    const graph = graphSha ? await this.store.localPath(graphSha).catch(async (error) => {
      await local.release();
      throw error;
    }) : null;
    let scratch: string | null = null;
    try {
      if (graph) {
        if (ctx.attempt > 1) await this.scratch.sweep(ctx.jobId).catch(() => []);
        scratch = await this.scratch.create(ctx.jobId, ctx.attempt);
      }
      ctx.progress(0, "starting");
      const result: EvaluationResult = await this.pool.run(
        "evaluate",
        {
          modelPath: graph ? graph.path : local.path,
          ...(graph ? { checkpoint: { path: local.path, scratchDir: scratch!, order: await this.registeredOrder(model.structureId) } } : {}),
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
      await graph?.release();
      if (scratch) await fsp.rm(scratch, { recursive: true, force: true });
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
    if (this.reads) {
      if (!(await this.reads.datasetExists(args.datasetId))) throw badInput(`datasetId ${JSON.stringify(args.datasetId)} does not exist`, "datasetId");
      const reads = this.reads;
      const { rows, rankBase } = await reads.leaderboard(args.datasetId, cursor ? { score: Number(cursor.value), modelId: cursor.id } : null, first + 1);
      const ranked = rows.map((r, i) => ({ ...r, rank: rankBase + i + 1 }));
      return connectionFrom(ranked, first, cursor !== null, () => reads.leaderboardCount(args.datasetId), (r) => encodeCursor(r.score, r.modelId));
    }
    if (!(await this.db.dataset.findUnique({ where: { id: args.datasetId }, select: { id: true } }))) throw badInput(`datasetId ${JSON.stringify(args.datasetId)} does not exist`, "datasetId");
    const where = { datasetId: args.datasetId, model: { deletedAt: null } };
    const after = cursor ? { OR: [{ score: { lt: Number(cursor.value) } }, { score: Number(cursor.value), modelId: { gt: cursor.id } }] } : {};
    const [rows, rankBase] = await Promise.all([
      this.db.modelScore.findMany({ where: { AND: [where, after] }, orderBy: [{ score: "desc" }, { modelId: "asc" }], take: first + 1 }),
      cursor ? this.db.modelScore.count({ where: { AND: [where, { OR: [{ score: { gt: Number(cursor.value) } }, { score: Number(cursor.value), modelId: { lte: cursor.id } }] }] } }) : Promise.resolve(0),
    ]);
    const ranked = rows.map((r, i) => ({ ...r, rank: rankBase + i + 1 }));
    return connectionFrom(ranked, first, cursor !== null, () => this.db.modelScore.count({ where }), (r) => encodeCursor(r.score, r.modelId));
  }

  /**
   * A merged model's score minus each parent's, and minus the best parent's (negative when the
   * merge is worse). Through the request's loaders: a leaderboard page asks it of every merge
   * on the page, which then costs one query for all their inputs and one for all the scores.
   */
  async gain(merge: { id: string; outputModelId: string | null }, datasetId: string, loaders: Loaders) {
    const inputs = (await loaders.mergeInputs.load(merge.id)).filter((i) => i.role === "ANCHOR" || i.role === "CONTRIBUTOR");
    const score = (modelId: string) => loaders.score.load(`${modelId}|${datasetId}`);
    const [own, ...parents] = await Promise.all([merge.outputModelId ? score(merge.outputModelId) : null, ...inputs.map((i) => score(i.modelId))]);
    const perParent = inputs.map((i, k) => {
      const parent = parents[k] ?? null;
      return { modelId: i.modelId, score: parent, delta: own != null && parent != null ? own - parent : null };
    });
    const parentScores = perParent.map((p) => p.score).filter((s): s is number => s != null);
    const best = parentScores.length ? Math.max(...parentScores) : null;
    return { datasetId, score: own ?? null, bestParentScore: best, vsBestParent: own != null && best != null ? own - best : null, perParent };
  }
}

function percent(score: number | null): string {
  return score == null ? "—" : `${(score * 100).toFixed(2)}%`;
}
