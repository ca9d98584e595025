import type { Db } from "../persistence/database";
import { badInput } from "../core/errors";
import { MERGE_METHOD_NAMES, MERGE_METHODS, resolveSchedule, type MergeMethodName, type MergeSchedule } from "../core/merge";
import { enumerateCandidatesAsync, prepareMixes, preparedCandidateKey, type PreparedMixes, expandParamGrids, type ParamGridInput, LABEL_FREE_KINDS, perturbationDraw, resolveObjectiveKind, type CandidatePlan, type ObjectiveKind, type PerturbationDraw, type SearchRecipe } from "../core/search";
import type { MergeService } from "./mergeService";
import type { StructureCatalog } from "./structureCatalog";
import type { DatasetClass } from "./datasetService";

export interface MergeSearchInput {
  modelIds: string[];
  anchorIds?: string[] | null;
  maxModels?: number | null;
  includeSingles?: boolean | null;
  methods?: string[] | null;
  baseModelId?: string | null;
  schedules?: Array<{ kind?: string | null; cutoff?: number | null; knots?: number[] | null }> | null;
  weightGrids?: number[][] | null;
  paramGrids?: ParamGridInput[] | null;
  objective: { kind: string; datasetId: string; limit?: number | null; seed?: number | null };
  audit?: { datasetId: string; limit?: number | null } | null;
  budget?: { maxCandidates?: number | null; maxSeconds?: number | null } | null;
  strategy?: string | null;
  keep?: string | null;
  topK?: number | null;
  output?: { namePrefix?: string | null; tags?: string[] | null } | null;
}

/** A candidate's recipe as a startMerge input; a single model has no contributors and no method. */
export interface CandidateRecipe {
  anchorId: string;
  modelIds: string[];
  method: string | null;
  schedule: MergeSchedule | null;
  weights: number[] | null;
  /** The method's parameters from input.paramGrids; null: its defaults. */
  params: Record<string, number> | null;
  baseModelId: string | null;
}

/** What a MERGE_SEARCH job needs, stored with the search (MergeSearch.settings). */
export interface MergeSearchSettings {
  /** EVOLUTION: the grid takes half the candidate budget, CMA-ES the rest (whole generations). */
  strategy: "GRID" | "EVOLUTION";
  modelIds: string[];
  anchorIds: string[];
  maxModels: number;
  includeSingles: boolean;
  methods: string[];
  baseModelId: string | null;
  schedules: MergeSchedule[];
  weightGrids: number[][] | null;
  paramGrids: ParamGridInput[] | null;
  objective: { kind: ObjectiveKind; datasetId: string; limit: number; seed: string };
  audit: { datasetId: string; limit: number } | null;
  budget: { maxCandidates: number; maxSeconds: number | null };
  keep: "BEST" | "TOP_K" | "NONE";
  topK: number;
  output: { namePrefix: string | null; tags: string[] };
  numClasses: number;
  /** The task's primary metric, which SCORE and the audit compute (absent in searches planned before PQ: MIOU). */
  metric: "MIOU" | "PQ";
  /** CONSISTENCY: each image's jitter (docs/CONVENTIONS.md, Merge search). */
  draws: PerturbationDraw[] | null;
  plan: Array<{ key: string; recipe: CandidateRecipe }>;
  /** EVOLUTION: candidates left to CMA-ES after the grid (at most; whole generations only). */
  evolutionBudget: number;
}

export const DEFAULT_SEARCH_SCHEDULES: MergeSchedule[] = [
  { kind: "UNIFORM" }, { kind: "LINEAR" }, { kind: "COSINE" }, { kind: "STEP", cutoff: 0.25 }, { kind: "STEP", cutoff: 0.5 }, { kind: "STEP", cutoff: 0.75 },
];
const MAX_POOL = 32;
const MAX_CANDIDATES = 10_000;
/** How long keying a plan runs before it lets the event loop take a turn. */
const YIELD_MS = 10;

/**
 * Checks a MergeSearchInput against the registry and plans its candidates (GRID): every recipe is
 * planned from stored structures like mergePlan, keyed by what its output tensors are made of
 * (candidateKey), repeats dropped, cut at the budget. Nothing is written.
 */
export async function planMergeSearch(db: Db, catalog: StructureCatalog, merges: MergeService, input: MergeSearchInput): Promise<MergeSearchSettings & { truncated: boolean }> {
  const ids = input.modelIds ?? [];
  if (ids.length < 2 || ids.length > MAX_POOL) throw badInput(`input.modelIds must list 2 to ${MAX_POOL} models, got ${ids.length}`, "input.modelIds");
  if (new Set(ids).size !== ids.length) throw badInput("input.modelIds lists a model twice", "input.modelIds");
  const rows = await db.model.findMany({ where: { id: { in: ids } }, include: { artifact: { select: { format: true } } } });
  const byId = new Map(rows.map((r) => [r.id, r]));
  const kind = resolveObjectiveKind(input.objective.kind, "input.objective.kind");
  const dataset = await db.dataset.findUnique({ where: { id: input.objective.datasetId } });
  if (!dataset) throw badInput(`input.objective.datasetId ${JSON.stringify(input.objective.datasetId)} does not exist`, "input.objective.datasetId");
  const models = ids.map((id, i) => {
    const field = `input.modelIds.${i}`;
    const m = byId.get(id);
    if (!m || m.deletedAt) throw badInput(`${field} ${JSON.stringify(id)} is not a live model`, field);
    const name = `${m.name}@${m.version}`;
    if (!m.artifact || !m.structureId) throw badInput(`${field}: ${name} has no registered weights`, field);
    if (m.artifact.format !== "onnx") throw badInput(`${field}: ${name} is ${m.artifact.format}; a search runs ONNX models`, field);
    if (!m.inference) throw badInput(`${field}: ${name} has no inference contract; set it with updateModel(input: { inference })`, field);
    if (m.taskId !== dataset.taskId) throw badInput(`${field}: ${name} is not of the objective dataset's task`, field);
    const outputs = ((m.inference as { outputs?: Array<{ kind: string }> }).outputs ?? []).map((o) => o.kind);
    if ((LABEL_FREE_KINDS as readonly string[]).includes(kind) && !outputs.some((k) => k === "SEMANTIC_LOGITS" || k === "PANOPTIC_SEMANTIC")) {
      throw badInput(`${field}: ${name} outputs class ids only (${outputs.join(", ")}); ${kind} needs scores (SEMANTIC_LOGITS or PANOPTIC_SEMANTIC)`, field);
    }
    return m;
  });
  const task = await db.task.findUniqueOrThrow({ where: { id: dataset.taskId } });
  if (kind === "SCORE" && dataset.format === "IMAGES") throw badInput(`SCORE needs labels; ${dataset.name} (${dataset.split}) is an IMAGES dataset`, "input.objective.datasetId");
  if (kind === "SCORE" && task.kind !== "SEMANTIC" && task.kind !== "PANOPTIC") throw badInput(`SCORE is implemented for semantic (mIoU) and panoptic (PQ) tasks; ${task.name} is ${task.kind}`, "input.objective.kind");
  // Evaluation scores a panoptic task by PQ; SCORE and the audit compute what it computes.
  const metric: MergeSearchSettings["metric"] = task.kind === "PANOPTIC" ? "PQ" : "MIOU";
  if (metric === "PQ" && kind === "SCORE" && dataset.format !== "COCO_PANOPTIC") throw badInput(`SCORE on a panoptic task is PQ, which needs COCO_PANOPTIC ground truth; ${dataset.name} is ${dataset.format}`, "input.objective.datasetId");
  const scored = kind === "SCORE" || !!input.audit;
  if (metric === "PQ" && scored) {
    models.forEach((m, i) => {
      const outputs = ((m.inference as { outputs?: Array<{ kind: string }> }).outputs ?? []).map((o) => o.kind);
      if (!["PANOPTIC_SEMANTIC", "PANOPTIC_CENTER", "PANOPTIC_OFFSET"].every((k) => outputs.includes(k))) {
        throw badInput(`input.modelIds.${i}: ${m.name}@${m.version} has no Panoptic-DeepLab heads (${outputs.join(", ")}); PQ in a search reads PANOPTIC_SEMANTIC, PANOPTIC_CENTER and PANOPTIC_OFFSET`, `input.modelIds.${i}`);
      }
    });
  }
  const classes = dataset.classes as unknown as DatasetClass[];
  const numClasses = Math.max(...classes.map((c) => c.id)) + 1;
  const limit = positiveInt(input.objective.limit ?? 200, "input.objective.limit");
  const seed = input.objective.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0) throw badInput(`input.objective.seed must be a non-negative integer, got ${seed}`, "input.objective.seed");

  let audit: MergeSearchSettings["audit"] = null;
  if (input.audit) {
    const a = await db.dataset.findUnique({ where: { id: input.audit.datasetId } });
    if (!a) throw badInput(`input.audit.datasetId ${JSON.stringify(input.audit.datasetId)} does not exist`, "input.audit.datasetId");
    if (a.format === "IMAGES") throw badInput(`the audit dataset needs labels; ${a.name} (${a.split}) is an IMAGES dataset`, "input.audit.datasetId");
    if (a.taskId !== dataset.taskId) throw badInput(`the audit dataset ${a.name} is not of the objective dataset's task`, "input.audit.datasetId");
    if (task.kind !== "SEMANTIC" && task.kind !== "PANOPTIC") throw badInput(`audit scores are implemented for semantic (mIoU) and panoptic (PQ) tasks; ${task.name} is ${task.kind}`, "input.audit.datasetId");
    if (metric === "PQ" && a.format !== "COCO_PANOPTIC") throw badInput(`the audit dataset ${a.name} is ${a.format}; PQ needs COCO_PANOPTIC ground truth`, "input.audit.datasetId");
    const aClasses = a.classes as unknown as DatasetClass[];
    if (Math.max(...aClasses.map((c) => c.id)) + 1 !== numClasses) throw badInput(`the audit dataset ${a.name} has ${Math.max(...aClasses.map((c) => c.id)) + 1} classes, the objective dataset ${numClasses}`, "input.audit.datasetId");
    audit = { datasetId: a.id, limit: positiveInt(input.audit.limit ?? 200, "input.audit.limit") };
  }

  const anchorIds = input.anchorIds ?? ids;
  anchorIds.forEach((id, i) => {
    if (!ids.includes(id)) throw badInput(`input.anchorIds.${i} ${JSON.stringify(id)} is not in input.modelIds`, `input.anchorIds.${i}`);
  });
  const maxModels = positiveInt(input.maxModels ?? 3, "input.maxModels");
  const methods = input.methods?.length ? input.methods : ["LAYERWISE"];
  methods.forEach((m, i) => {
    if (!(MERGE_METHOD_NAMES as readonly string[]).includes(m)) throw badInput(`input.methods.${i}: unknown method ${JSON.stringify(m)}`, `input.methods.${i}`);
  });
  const paramGrids = input.paramGrids?.length ? input.paramGrids.map((g) => ({ method: g.method, parameters: g.parameters.map((p) => ({ name: p.name, values: [...p.values] })) })) : null;
  const grids = expandParamGrids(paramGrids ?? [], methods);
  const baseModelId = input.baseModelId ?? null;
  const needBase = methods.filter((m) => MERGE_METHODS[m as MergeMethodName].needsBase);
  if (needBase.length && !baseModelId) throw badInput(`input.baseModelId is needed by ${needBase.join(", ")}: the common pre-trained model whose task vectors are merged`, "input.baseModelId");
  if (!needBase.length && baseModelId) throw badInput(`input.baseModelId applies to ${Object.values(MERGE_METHODS).filter((m) => m.needsBase).map((m) => m.name).join(", ")}; none is in input.methods`, "input.baseModelId");
  const schedules = input.schedules?.length ? input.schedules.map((s, i) => withField(() => resolveSchedule(s), `input.schedules.${i}`)) : DEFAULT_SEARCH_SCHEDULES;
  const weightGrids = input.weightGrids?.length ? input.weightGrids : null;
  weightGrids?.forEach((g, i) => {
    if (g.length === 0 || g.some((w) => !Number.isFinite(w) || w < 0) || g.every((w) => w === 0)) throw badInput(`input.weightGrids.${i} must be non-negative weights, not all 0`, `input.weightGrids.${i}`);
  });
  const maxCandidates = positiveInt(input.budget?.maxCandidates ?? 200, "input.budget.maxCandidates");
  if (maxCandidates > MAX_CANDIDATES) throw badInput(`input.budget.maxCandidates must be at most ${MAX_CANDIDATES}`, "input.budget.maxCandidates");
  const maxSeconds = input.budget?.maxSeconds ?? null;
  if (maxSeconds !== null && !(maxSeconds > 0)) throw badInput("input.budget.maxSeconds must be positive", "input.budget.maxSeconds");
  const strategy = (input.strategy ?? "GRID") as MergeSearchSettings["strategy"];
  if (strategy !== "GRID" && strategy !== "EVOLUTION") throw badInput("input.strategy must be GRID or EVOLUTION", "input.strategy");
  const keep = (input.keep ?? "NONE") as MergeSearchSettings["keep"];
  if (!["BEST", "TOP_K", "NONE"].includes(keep)) throw badInput(`input.keep must be BEST, TOP_K or NONE`, "input.keep");
  const topK = keep === "TOP_K" ? positiveInt(input.topK ?? 3, "input.topK") : keep === "BEST" ? 1 : 0;

  const keyOf = await candidateKeys(catalog, merges, models);
  const space = { poolIds: ids, anchorIds, maxModels, includeSingles: input.includeSingles ?? true, methods, schedules, weightGrids, paramGrids: grids };
  const gridBudget = strategy === "EVOLUTION" ? Math.max(1, Math.floor(maxCandidates / 2)) : maxCandidates;
  // Recipes are keyed in plan order only until the budget is full (and one more distinct one
  // shows the plan truncated): the request's work follows the budget, not the whole space.
  const plan: CandidatePlan<string, MergeSchedule> = await enumerateCandidatesAsync(space, gridBudget, (r) => keyOf(toRecipe(r, baseModelId)));
  const draws = kind === "CONSISTENCY" ? Array.from({ length: Math.min(limit, dataset.imageCount ?? limit) }, (_, i) => perturbationDraw(BigInt(seed), i)) : null;
  return {
    strategy,
    modelIds: ids,
    anchorIds,
    maxModels,
    includeSingles: input.includeSingles ?? true,
    methods,
    baseModelId,
    schedules,
    weightGrids,
    paramGrids,
    objective: { kind, datasetId: dataset.id, limit, seed: String(seed) },
    audit,
    budget: { maxCandidates, maxSeconds },
    keep,
    topK,
    output: { namePrefix: input.output?.namePrefix?.trim() || null, tags: input.output?.tags ?? [] },
    numClasses,
    metric,
    draws,
    plan: plan.candidates.map((c) => ({ key: c.key, recipe: toRecipe(c.recipe, baseModelId) })),
    evolutionBudget: strategy === "EVOLUTION" ? maxCandidates - plan.candidates.length : 0,
    truncated: plan.truncated,
  };
}

function toRecipe(r: SearchRecipe<string, MergeSchedule>, baseModelId: string | null): CandidateRecipe {
  const needsBase = r.method !== null && MERGE_METHODS[r.method as MergeMethodName].needsBase;
  return { anchorId: r.anchorId, modelIds: r.contributorIds, method: r.method, schedule: r.schedule, weights: r.weights, params: r.params, baseModelId: needsBase ? baseModelId : null };
}

/**
 * The key of a candidate recipe (candidateKey): a single model is its own tensors at weight 1; a
 * merge, its plan's per-tensor inputs, planned from stored structures as mergePlan does.
 *
 * A merge plan depends on the models only through their structures (and the recipe's method,
 * schedule, weights and base), so one plan serves every recipe whose anchor and contributors
 * have the same structures in the same order: its inputs are renamed to the recipe's models.
  */
export async function candidateKeys(catalog: StructureCatalog, merges: Pick<MergeService, "plan" | "planFor">, models: ReadonlyArray<{ id: string; structureId: string | null; name: string; version: string }>): Promise<(r: CandidateRecipe) => Promise<string>> {
  const single = new Map<string, PreparedMixes>();
  for (const m of models) {
    const s = await catalog.planModel(m.structureId!);
    single.set(m.id, prepareMixes(s.tensors.map((t) => ({ name: t.name, parts: [{ index: 0, weight: 1 }] }))));
  }
  const structureOf = new Map(models.map((m) => [m.id, m.structureId!]));
  const given = new Map(models.map((m) => [m.id, m]));
  /** Per structure tuple and recipe settings: each tensor's (input index, weight) pairs, index 0 the anchor, prepared for keying. */
  const plans = new Map<string, Promise<{ method: string; mixes: PreparedMixes }>>();
  // Keying is CPU work on the caller's event loop (a plan of thousands of candidates over
  // hundreds of tensors each): it gives the loop a turn every YIELD_MS, so the API's other
  // requests are answered meanwhile.
  let ranSince = performance.now();
  return async (r) => {
    if (performance.now() - ranSince > YIELD_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      ranSince = performance.now();
    }
    if (r.modelIds.length === 0) return preparedCandidateKey(structureOf.get(r.anchorId)!, "", single.get(r.anchorId)!, [r.anchorId]);
    const ids = [r.anchorId, ...r.modelIds];
    const shape = JSON.stringify([ids.map((id) => structureOf.get(id) ?? id), r.method, r.schedule, r.weights, r.params, r.baseModelId]);
    let planned = plans.get(shape);
    if (!planned) {
      const request = { anchorId: r.anchorId, modelIds: r.modelIds, method: r.method, schedule: r.schedule, weights: r.weights, params: r.params, baseModelId: r.baseModelId };
      // The pool's models were read and checked by the caller: planned from them directly; a
      // model it did not give (a base outside the pool) is read as mergePlan reads it.
      const named = [r.anchorId, ...r.modelIds, ...(r.baseModelId ? [r.baseModelId] : [])].every((id) => given.has(id));
      const plan = named
        ? merges.planFor(request, { anchor: given.get(r.anchorId)!, contributors: r.modelIds.map((id) => given.get(id)!), base: r.baseModelId ? given.get(r.baseModelId)! : null })
        : merges.plan(request).then((x) => x.plan);
      planned = plan.then((p) => ({
        method: p.method === "LAYERWISE" ? "" : `${p.method} ${JSON.stringify(Object.entries(p.params).sort())} base=${r.baseModelId}`,
        // The plan's inputs are [anchor, ...modelIds] in the request's order.
        mixes: prepareMixes(p.tensors.map((t) => ({ name: t.tensor.name, parts: t.action === "copy" ? [{ index: 0, weight: 1 }] : t.inputs.map((x) => ({ index: x.model, weight: x.weight })) }))),
      }));
      plans.set(shape, planned);
      // A failed plan (a bad base model, say) is not kept: the next recipe asks again.
      planned.catch(() => plans.delete(shape));
    }
    const { method, mixes } = await planned;
    return preparedCandidateKey(structureOf.get(r.anchorId)!, method, mixes, ids);
  };
}

function positiveInt(v: number, field: string): number {
  if (!Number.isInteger(v) || v < 1) throw badInput(`${field} must be a positive integer, got ${v}`, field);
  return v;
}

function withField<T>(fn: () => T, field: string): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof Error && "code" in error) throw badInput(error.message, field);
    throw error;
  }
}
