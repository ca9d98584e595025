import * as fsp from "node:fs/promises";
import * as path from "node:path";
import type { Db } from "../persistence/database";
import { badInput, DomainError } from "../core/errors";
import { MERGE_METHOD_NAMES, MERGE_METHODS, planMerge, resolveSchedule, type MergePlan } from "../core/merge";
import type { ArtifactStore } from "../storage/artifactStore";
import type { ArtifactService } from "./artifactService";
import type { ThreadPool } from "../threads/threadPool";
import type { MergeModelRef, RunMergeResult } from "../threads/runMerge";
import type { ParsedModel } from "../core/structure/types";
import type { JobContext, JobOutcome } from "../jobs/jobTypes";
import type { MergeJobPayload, MergeRecipe } from "../jobs/jobPayloads";
import type { JobRunner } from "../jobs/jobRunner";
import { ModelOrigin } from "../domain/enums";
import type { ModelRow, ModelService } from "./modelService";
import type { StructureCatalog } from "./structureCatalog";
import { tagList } from "./validate";
import { MATCHING_CHOICES, resolveMergeMatching, type MatchingChoice } from "../core/structure/tensorMatching";
import { MergeScratch } from "./mergeScratch";
import { defaultMergeName } from "./mergeName";
import { hashRecipe, mergeMetadata } from "./mergeRecipeHash";

export interface MergeRequest {
  anchorId: string;
  modelIds: string[];
  method?: string | null;
  schedule?: { kind?: string | null; cutoff?: number | null; knots?: number[] | null; groups?: Array<{ prefix: string; knots: number[] }> | null } | null;
  weights?: number[] | null;
  baseModelId?: string | null;
  params?: { [name: string]: number | null | undefined } | object | null;
  output?: { name?: string | null; version?: string | null; tags?: string[] | null } | null;
  /** How the inputs' tensors are paired with the anchor's; default AUTO (see `mergeMatching`). */
  matching?: MatchingChoice | null;
  /** The merge search keeping this merge (set by the search, not by clients). */
  searchId?: string | null;
  /** Datasets the merged model is evaluated on once it is registered (a search's audit and SCORE datasets). */
  evaluateOn?: string[] | null;
}

interface Inputs {
  anchor: ModelWithArtifact;
  contributors: ModelWithArtifact[];
  base: ModelWithArtifact | null;
}

type ModelWithArtifact = ModelRow & { artifact: { sha256: string; format: string; layout?: unknown } | null };

/**
 * Merges: validate and plan up front from stored structures (no artifact read), queue
 * a job, and in the job stream the merge in a pool thread, then record the output model, its
 * recipe and its lineage in one transaction. Identical recipes return the existing model.
 */
export class MergeService {
  private readonly scratch: MergeScratch;
  /** Queues the evaluations a merge asks for once its model is recorded (wired to EvaluationService.start). */
  evaluate: ((modelId: string, datasetId: string) => Promise<unknown>) | null = null;

  constructor(
    private readonly db: Db,
    private readonly store: ArtifactStore,
    private readonly pool: ThreadPool,
    private readonly catalog: StructureCatalog,
    private readonly models: ModelService,
    private readonly jobs: () => JobRunner,
    private readonly remoteStore: { artifacts: string; dataDir: string; env: Record<string, string> },
    private readonly artifacts: ArtifactService,
  ) {
    this.scratch = new MergeScratch(db, store.scratchDir);
  }

  /** Removes what killed merges of this host left in the scratch folder (at process start). */
  sweepScratch(): Promise<string[]> {
    return this.scratch.sweep();
  }

  /** Preview: the per-layer weights, what is merged or copied, and the output size. */
  async plan(request: MergeRequest): Promise<{ plan: MergePlan; inputs: Inputs }> {
    checkMatching(request);
    const inputs = await this.loadInputs(request);
    return { plan: await this.planFor(request, inputs), inputs };
  }

  /**
   * The plan of `request` for its models already read and checked (live, with registered
   * weights): what `plan` computes, from the models' structures and names alone. A merge search
   * keys hundreds of recipes over a pool it has checked once; reading every model's row and
   * layout again for each recipe cost it more than the planning.
   */
  async planFor(request: MergeRequest, inputs: { anchor: PlanModel; contributors: PlanModel[]; base: PlanModel | null }): Promise<MergePlan> {
    const choice = checkMatching(request);
    const anchor = await this.catalog.planModel(inputs.anchor.structureId!);
    const contributors = await Promise.all(inputs.contributors.map((c) => this.catalog.planModel(c.structureId!)));
    const base = inputs.base ? await this.catalog.planModel(inputs.base.structureId!) : null;
    const plan = planMerge({
      anchor,
      contributors,
      base,
      matching: resolveMergeMatching(choice, [anchor, ...contributors, ...(base ? [base] : [])]),
      method: request.method,
      schedule: request.schedule,
      weights: request.weights,
      params: request.params ? Object.fromEntries(Object.entries(request.params).filter(([, v]) => v != null)) : null,
      names: { anchor: label(inputs.anchor), contributors: inputs.contributors.map(label), base: inputs.base ? label(inputs.base) : undefined },
    });
    return plan;
  }

  /** `mergePlan` for clients: the plan with its inputs as models. */
  async preview(request: MergeRequest) {
    const { plan, inputs } = await this.plan(request);
    const models = [inputs.anchor, ...inputs.contributors];
    const pairs = (model: number) =>
      plan.tensors.flatMap((t) => (t.action === "merge" ? t.inputs.filter((x) => x.model === model && model !== 0).map((x) => ({ nameA: t.tensor.name, nameB: x.tensor.name })) : []));
    const basePairs = plan.tensors.flatMap((t) => (t.action === "merge" && t.baseTensor ? [{ nameA: t.tensor.name, nameB: t.baseTensor.name }] : []));
    return {
      method: plan.method,
      matching: plan.matching,
      schedule: { cutoff: null, knots: null, ...plan.schedule },
      params: { ...plan.params, weights: plan.weights },
      layerCount: plan.layerCount,
      layers: plan.layers,
      inputs: [
        ...models.map((m, i) => ({ model: m, role: i === 0 ? "ANCHOR" : "CONTRIBUTOR", meanWeight: plan.meanWeights[i], pairs: pairs(i) })),
        ...(inputs.base ? [{ model: inputs.base, role: "BASE", meanWeight: null, pairs: basePairs }] : []),
      ],
      mergedTensorCount: plan.mergedCount,
      copiedTensorCount: plan.copiedCount,
      mergedElements: plan.mergedElements,
      expectedOutputBytes: plan.expectedOutputBytes,
      inputBytes: plan.inputBytes,
      tensors: plan.tensors.map((t) => ({
        name: t.tensor.name,
        action: t.action === "merge" ? "MERGE" : "COPY",
        reason: t.action === "copy" ? t.reason : null,
        layerIndex: t.tensor.layerIndex,
        shape: t.tensor.shape,
        dtype: t.tensor.dtype,
        sharedBy: t.action === "merge" ? t.inputs.length : 1,
      })),
    };
  }

  /** The registry's methods, for clients that build merge forms. */
  methods() {
    return MERGE_METHOD_NAMES.map((name) => {
      const m = MERGE_METHODS[name];
      return {
        name,
        title: m.title,
        description: m.description,
        arxiv: m.paper.arxiv,
        paperTitle: m.paper.title,
        needsBase: m.needsBase,
        defaultSchedule: resolveSchedule(m.defaultSchedule).kind,
        parameters: m.parameters.map((p) => ({ name: p.name, type: p.type, default: p.default ?? null, min: p.min ?? null, max: p.max ?? null, description: p.description })),
      };
    });
  }

  /** Validates everything, then queues the merge and returns its job at once. */
  async start(request: MergeRequest) {
    const { plan, inputs } = await this.plan(request);
    const recipe: MergeRecipe = {
      method: plan.method,
      schedule: plan.schedule as MergeRecipe["schedule"],
      params: plan.params,
      weights: plan.weights,
      anchorId: inputs.anchor.id,
      contributorIds: inputs.contributors.map((c) => c.id),
      baseModelId: inputs.base?.id ?? null,
      artifacts: { anchor: inputs.anchor.artifact!.sha256, contributors: inputs.contributors.map((c) => c.artifact!.sha256), base: inputs.base?.artifact?.sha256 ?? null },
      anchorStructureId: inputs.anchor.structureId!,
      ...(plan.matching === "POSITION" ? { matching: "POSITION" as const } : {}),
    };
    const recipeHash = hashRecipe(recipe);

    const existing = await this.db.merge.findFirst({ where: { recipeHash, outputModel: { deletedAt: null } }, include: { outputModel: true } });
    if (existing?.outputModel) {
      const m = existing.outputModel;
      // The existing model keeps its name: say so when the request asked for another one.
      const asked = { name: request.output?.name?.trim() || m.name, version: request.output?.version?.trim() || m.version };
      const renamed = asked.name !== m.name || asked.version !== m.version ? `; the requested ${asked.name}@${asked.version} was not created` : "";
      return this.db.job.create({
        data: {
          kind: "MERGE",
          status: "SUCCEEDED",
          progress: 1,
          payload: { recipe, recipeHash } as unknown as object,
          result: { modelId: m.id, mergeId: existing.id, reused: true },
          message: `an identical merge already exists: ${m.name}@${m.version} (${m.id}); returning it instead of a duplicate${renamed}`,
          finishedAt: new Date(),
          startedAt: new Date(),
        },
      });
    }

    const name = request.output?.name?.trim() || defaultMergeName(inputs.anchor.name, plan.method, plan.schedule.kind, recipeHash);
    const version = request.output?.version?.trim() || "1";
    const tags = tagList(request.output?.tags, "input.output.tags") ?? [];
    const taken = await this.db.model.findUnique({ where: { name_version: { name, version } }, select: { id: true } });
    if (taken) throw new DomainError("CONFLICT", `a model ${name}@${version} already exists; choose another output name or version`, { field: "input.output.name" });
    const payload: MergeJobPayload = { recipe, recipeHash, output: { name, version, tags }, ...(request.searchId ? { searchId: request.searchId } : {}), ...(request.evaluateOn?.length ? { evaluateOn: request.evaluateOn } : {}) };
    const job = await this.db.job.create({ data: { kind: "MERGE", payload: payload as unknown as object, message: "queued" } });
    await this.jobs().enqueue(job.id);
    return job;
  }

  /** The MERGE job handler. Idempotent: a job that already produced its merge returns it. */
  async run(payload: MergeJobPayload, ctx: JobContext): Promise<JobOutcome> {
    const done = await this.db.merge.findFirst({ where: { jobId: ctx.jobId }, include: { outputModel: true } });
    if (done?.outputModel) return { result: { modelId: done.outputModel.id, mergeId: done.id }, message: `merged into ${done.outputModel.name}@${done.outputModel.version}` };

    const { recipe } = payload;
    const inputs = await this.loadInputs({ anchorId: recipe.anchorId, modelIds: recipe.contributorIds, baseModelId: recipe.baseModelId, method: recipe.method });
    const shas = [inputs.anchor, ...inputs.contributors, ...(inputs.base ? [inputs.base] : [])].map((m) => m.artifact!.sha256);
    const expected = [recipe.artifacts.anchor, ...recipe.artifacts.contributors, ...(recipe.artifacts.base ? [recipe.artifacts.base] : [])];
    if (shas.join() !== expected.join()) throw badInput("an input model's artifact changed since the merge was queued");

    // The anchor's bytes become the output's, so it is read from a local copy; with a remote store,
    // contributors and the base whose layout was recorded at registration are read tensor by
    // tensor with byte-range requests instead of being downloaded.
    const locals: Array<{ path: string; release(): Promise<void> }> = [];
    // Every input carries its layout recorded at registration (when there is one), so the merging thread
    // does not parse the files again, and its layer indices as registered (the plan's).
    const refOf = async (m: ModelWithArtifact, mayBeRemote: boolean): Promise<MergeModelRef> => {
      const layout = (m.artifact!.layout as ParsedModel | null | undefined) ?? null;
      const structure = await this.catalog.planModel(m.structureId!);
      const layers = { count: structure.layerCount, byName: Object.fromEntries(structure.tensors.map((t) => [t.name, t.layerIndex])) };
      // The keys as registered: a layout recorded before positional keys existed has none.
      const positionKeys = recipe.matching === "POSITION" ? Object.fromEntries(structure.tensors.map((t) => [t.name, t.positionKey ?? null])) : null;
      if (mayBeRemote && this.store.remote && layout) {
        return { name: label(m), remote: { sha256: m.artifact!.sha256, layout }, layers, positionKeys };
      }
      const local = await this.store.localPath(m.artifact!.sha256);
      locals.push(local);
      return { name: label(m), file: local.path, layout, layers, positionKeys };
    };
    // Beside the store's files, so the finished output is renamed into the store, not copied.
    // A job taken over (a later attempt) first removes what its earlier, dead runs left here; a
    // failed sweep does not fail the merge (the next process start sweeps again).
    if (ctx.attempt > 1) await this.scratch.sweep(ctx.jobId).catch(() => []);
    const dir = await this.scratch.create(ctx.jobId, ctx.attempt);
    const outFile = path.join(dir, inputs.anchor.artifact!.format === "onnx" ? "merged.onnx" : "merged.safetensors");
    let storedSha: string | null = null;
    let createdBlob = false;
    let unpin: (() => void) | null = null;
    try {
      ctx.progress(0, "merging");
      const result: RunMergeResult = await this.pool.run(
        "runMerge",
        {
          anchor: await refOf(inputs.anchor, false),
          contributors: await Promise.all(inputs.contributors.map((c) => refOf(c, true))),
          base: inputs.base ? await refOf(inputs.base, true) : null,
          remoteStore: this.store.remote ? { artifacts: this.remoteStore.artifacts, dataDir: this.remoteStore.dataDir, env: this.remoteStore.env } : null,
          recipe: { method: recipe.method, schedule: recipe.schedule, weights: recipe.weights, params: recipe.params, matching: recipe.matching ?? "NAME" },
          outFile,
          // Hashed as it is written: reading the output back to hash it took as long as a third of the merge.
          hash: true,
          metadata: mergeMetadata(recipe),
        },
        {
          signal: ctx.signal,
          onProgress: (p) => {
            const { fraction, message } = p as { fraction: number; message: string };
            ctx.progress(fraction * 0.95, message);
          },
        },
      );
      ctx.progress(0.96, "storing the merged model");
      if (!result.sha256) throw new Error("the merge thread returned no sha256 for its output");
      const hashed = { sha256: result.sha256, sizeBytes: result.outputBytes };
      // Pinned until recorded, so this process's upload sweep leaves the unreferenced output be.
      unpin = await this.artifacts.pin(hashed.sha256);
      const blob = await this.store.adoptFile(outFile, hashed);
      storedSha = blob.sha256;
      createdBlob = blob.created;
      if (ctx.signal.aborted) throw new DomainError("CANCELLED", "cancelled");
      const created = await this.record(payload, inputs, result, blob.sha256, blob.sizeBytes, ctx.jobId);
      const reuse = created.reused ? " (an identical merge finished first; returning it)" : "";
      // The merge is recorded either way: an evaluation that cannot be queued is said, not fatal.
      const notQueued: string[] = [];
      for (const datasetId of payload.evaluateOn ?? []) await this.evaluate?.(created.model.id, datasetId).catch((e: Error) => notQueued.push(`evaluation on ${datasetId} not queued: ${e.message}`));
      return {
        result: { modelId: created.model.id, mergeId: created.mergeId, sha256: blob.sha256, mergedTensors: result.mergedCount, copiedTensors: result.copiedCount, reused: created.reused },
        message: `merged ${result.mergedCount} tensors (${result.copiedCount} copied) into ${created.model.name}@${created.model.version}${reuse}${notQueued.length ? `; ${notQueued.join("; ")}` : ""}`,
      };
    } catch (error) {
      unpin?.();
      if (storedSha && createdBlob) await this.artifacts.deleteIfUnreferenced(storedSha).catch(() => undefined);
      throw error;
    } finally {
      unpin?.();
      await fsp.rm(dir, { recursive: true, force: true });
      for (const l of locals) await l.release().catch(() => undefined);
    }
  }

  private async record(payload: MergeJobPayload, inputs: Inputs, result: RunMergeResult, sha256: string, sizeBytes: number, jobId: string) {
    const { recipe, recipeHash, output } = payload;
    const anchor = inputs.anchor;
    return this.db.$transaction(async (tx) => {
      // Deterministic merges: the same recipe gives the same bytes. If another job recorded it
      // first, this one returns that model.
      const twin = await tx.merge.findFirst({ where: { recipeHash, outputModel: { deletedAt: null } }, include: { outputModel: true } });
      if (twin?.outputModel) return { model: twin.outputModel, mergeId: twin.id, reused: true };
      let artifact = await tx.artifact.findUnique({ where: { sha256 } });
      if (!artifact) {
        artifact = await tx.artifact.create({ data: { sha256, sizeBytes: BigInt(sizeBytes), format: result.format, storageKey: sha256 } });
        // A new row: a deletion of these bytes (an upload sweep in another process) may have
        // finished just before it; the row must not outlive the blob (see ArtifactService).
        // Not the job's fault: a plain error, so the job is retried (and stores its output again).
        await this.artifacts.assertStoredInTransaction(sha256, () => new Error(`the merged output ${sha256} was deleted (an upload sweep) before it was recorded`));
      }
      const names = [anchor, ...inputs.contributors].map((m) => m.name).join(", ");
      const validated = await this.models.validateForCreate({
        name: output.name,
        version: output.version,
        taskId: anchor.taskId,
        architecture: anchor.architecture,
        backboneId: anchor.backboneId,
        sourceDatasetId: anchor.sourceDatasetId,
        targetDatasetId: anchor.targetDatasetId,
        description: `${recipe.method} merge (${recipe.schedule.kind} schedule) of ${names}; anchor ${anchor.name}`,
        tags: output.tags,
      });
      // The merge has the anchor's structure, so it runs through the anchor's graph and contract.
      const model = await this.models.insert(validated, { structureId: anchor.structureId!, artifactId: artifact.id, origin: ModelOrigin.MERGED, graphModelId: anchor.graphModelId }, tx as unknown as Db);
      if (anchor.inference) await tx.model.update({ where: { id: model.id }, data: { inference: anchor.inference as object } });
      const merge = await tx.merge.create({
        data: {
          method: recipe.method,
          schedule: recipe.schedule as object,
          params: { ...recipe.params, weights: recipe.weights } as object,
          recipeHash,
          anchorId: anchor.id,
          baseModelId: recipe.baseModelId,
          outputModelId: model.id,
          jobId,
          searchId: payload.searchId ?? null,
          layers: result.layers as unknown as object,
          matching: recipe.matching ?? "NAME",
        },
      });
      const all = [anchor, ...inputs.contributors];
      await tx.mergeInput.createMany({
        data: [
          ...all.map((m, i) => ({
            mergeId: merge.id,
            modelId: m.id,
            role: i === 0 ? "ANCHOR" : "CONTRIBUTOR",
            position: i,
            relativeWeight: i === 0 ? null : (recipe.weights?.[i - 1] ?? null),
            meanWeight: result.meanWeights[i],
          })),
          ...(inputs.base ? [{ mergeId: merge.id, modelId: inputs.base.id, role: "BASE", position: all.length, relativeWeight: null, meanWeight: null }] : []),
        ],
      });
      await tx.lineageEdge.createMany({
        data: all.map((m, i) => ({ parentId: m.id, childId: model.id, relation: "MERGED_FROM", weight: result.meanWeights[i], mergeId: merge.id })),
      });
      return { model, mergeId: merge.id, reused: false };
    });
  }

  private async loadInputs(request: Pick<MergeRequest, "anchorId" | "modelIds" | "baseModelId" | "method">): Promise<Inputs> {
    if (!Array.isArray(request.modelIds) || request.modelIds.length === 0) throw badInput("input.modelIds must name at least one model to merge with the anchor", "input.modelIds");
    if (request.modelIds.includes(request.anchorId)) throw badInput("the anchor must not also be listed in input.modelIds", "input.modelIds");
    if (new Set(request.modelIds).size !== request.modelIds.length) throw badInput("input.modelIds lists a model twice", "input.modelIds");
    if (request.baseModelId && (request.baseModelId === request.anchorId || request.modelIds.includes(request.baseModelId))) {
      throw badInput("the base model must differ from the anchor and the contributors", "input.baseModelId");
    }
    const ids = [request.anchorId, ...request.modelIds, ...(request.baseModelId ? [request.baseModelId] : [])];
    const rows = await this.db.model.findMany({ where: { id: { in: ids } }, include: { artifact: { select: { sha256: true, format: true, layout: true } } } });
    const byId = new Map(rows.map((r) => [r.id, r]));
    const get = (id: string, field: string): ModelWithArtifact => {
      const m = byId.get(id);
      if (!m || m.deletedAt) throw badInput(`${field} ${JSON.stringify(id)} is not a live model`, field);
      if (!m.artifact || !m.structureId) throw badInput(`${field}: ${m.name}@${m.version} has no registered weights (register it from an artifact first)`, field);
      return m;
    };
    const anchor = get(request.anchorId, "input.anchorId");
    const contributors = request.modelIds.map((id, i) => get(id, `input.modelIds.${i}`));
    const base = request.baseModelId ? get(request.baseModelId, "input.baseModelId") : null;
    return { anchor, contributors, base };
  }
}

/** What planning reads of a model: its structure and its name for messages. */
export interface PlanModel {
  name: string;
  version: string;
  structureId: string | null;
}

function checkMatching(request: Pick<MergeRequest, "matching">): MatchingChoice {
  const choice = request.matching ?? "AUTO";
  if (!MATCHING_CHOICES.includes(choice)) throw badInput(`matching must be one of ${MATCHING_CHOICES.join(", ")} (got ${JSON.stringify(choice)})`, "input.matching");
  return choice;
}

function label(m: { name: string; version: string }): string {
  return `${m.name}@${m.version}`;
}
