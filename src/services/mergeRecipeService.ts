import type { Db } from "../persistence/database";
import { badInput } from "../core/errors";
import type { MergeMethodName } from "../core/merge";
import type { MergeSchedule } from "../core/merge/mergeSchedule";
import { MAX_RECIPE_YAML_CHARS } from "../core/merge/mergekit/readMergekitYaml";
import type { ThreadPool } from "../threads/threadPool";
import type { MergeService } from "./mergeService";

/** How a recipe's model text is bound to a registered model: by id or by name@version. */
export interface ModelRef {
  key: string;
  id?: string | null;
  nameVersion?: string | null;
}

/** The per-request batch loaders recipeYaml reads through (services/loaders). */
export interface RecipeLoaders {
  mergeInputs: { load(mergeId: string): Promise<ReadonlyArray<{ modelId: string; role: string }>> };
  model: { load(id: string): Promise<{ name: string; version: string; structureId: string | null } | null> };
  structure: { load(id: string): Promise<{ layerCount: number; layerOrderSource: string } | null> };
}

interface MergeRow {
  id: string;
  method: string;
  schedule: unknown;
  params: unknown;
  anchorId: string;
}

/**
 * Merge recipes as mergekit configs: a stored merge written out (core/merge/mergekit), and a
 * config run as a merge. A config written here and run again is the same recipe, so it returns
 * the existing merge.
 */
export class MergeRecipeService {
  constructor(
    private readonly db: Db,
    private readonly merges: MergeService,
    private readonly pool: ThreadPool,
  ) {}

  /**
   * The merge's recipe as mergekit YAML; null when its method has no mergekit equivalent. Read
   * through the request's batch loaders, so a page of merges costs a few queries, not a few each.
   */
  async recipeYaml(merge: MergeRow, loaders: RecipeLoaders): Promise<string | null> {
    const inputs = await loaders.mergeInputs.load(merge.id);
    const models = await Promise.all(inputs.map((i) => loaders.model.load(i.modelId)));
    const anchorIndex = inputs.findIndex((i) => i.role === "ANCHOR");
    const anchor = models[anchorIndex];
    const structure = anchor?.structureId ? await loaders.structure.load(anchor.structureId) : null;
    if (!anchor || !structure || models.some((m) => !m)) return null;
    const label = (k: number) => `${models[k]!.name}@${models[k]!.version}`;
    const withRole = (role: string) => inputs.flatMap((input, k) => (input.role === role ? [label(k)] : []));
    const { weights, ...params } = merge.params as Record<string, number> & { weights?: number[] | null };
    // Parsing and writing run on the thread pool: a config holds L numbers per model, and a
    // large one took ~0.3 s to write and ~0.7 s to parse (10 models × 1,000 layers, 210 kB).
    const recipe = {
      method: merge.method as MergeMethodName,
      schedule: merge.schedule as MergeSchedule,
      params,
      weights: weights ?? null,
      anchor: label(anchorIndex),
      contributors: withRole("CONTRIBUTOR"),
      base: withRole("BASE")[0] ?? null,
      layers: { count: structure.layerCount, order: structure.layerOrderSource },
    };
    return this.pool.run("writeMergekitYaml", { recipe });
  }

  /** Runs a mergekit config: its models resolved by `modelRefs`, else by their text (name@version or id). */
  async start(recipeYaml: string, modelRefs: ModelRef[] | null | undefined) {
    if (typeof recipeYaml !== "string" || recipeYaml.length > MAX_RECIPE_YAML_CHARS) throw badInput(`recipeYaml must be a YAML text of at most ${MAX_RECIPE_YAML_CHARS} characters`, "recipeYaml");
    const recipe = await this.pool.run("readMergekitYaml", { text: recipeYaml });
    const texts = [recipe.anchor, ...recipe.contributors, ...(recipe.base ? [recipe.base] : [])];
    const ids = await this.resolve(texts, modelRefs ?? []);
    const [anchorId, ...rest] = ids;
    const anchor = await this.db.model.findUnique({ where: { id: anchorId }, select: { structure: { select: { layerCount: true, layerOrderSource: true } } } });
    const structure = anchor?.structure;
    if (structure && recipe.layers.count !== null && recipe.layers.count !== structure.layerCount) {
      throw badInput(`recipeYaml.layermerge.layers is ${recipe.layers.count} but the anchor ${recipe.anchor} has ${structure.layerCount} layers; the weight lists were written for another layering`, "recipeYaml.layermerge.layers");
    }
    if (structure && recipe.layers.order !== null && recipe.layers.order !== structure.layerOrderSource) {
      throw badInput(`recipeYaml.layermerge.layer_order is ${recipe.layers.order} but the anchor ${recipe.anchor}'s layers are ordered by ${structure.layerOrderSource}`, "recipeYaml.layermerge.layer_order");
    }
    return this.merges.start({
      anchorId,
      modelIds: rest.slice(0, recipe.contributors.length),
      baseModelId: recipe.base ? rest[rest.length - 1] : null,
      method: recipe.method,
      schedule: recipe.schedule,
      weights: recipe.weights,
      params: recipe.params,
    });
  }

  /** The live model each text names, in order; every modelRefs entry must name one of the texts. */
  private async resolve(texts: string[], refs: ModelRef[]): Promise<string[]> {
    const byKey = new Map<string, { ref: ModelRef; field: string }>();
    refs.forEach((ref, i) => {
      const field = `modelRefs.${i}`;
      if (typeof ref.key !== "string" || !ref.key.trim()) throw badInput(`${field}.key must name a model of the recipe`, `${field}.key`);
      if ((ref.id == null) === (ref.nameVersion == null)) throw badInput(`${field}: give exactly one of id and nameVersion`, field);
      if (byKey.has(ref.key.trim())) throw badInput(`${field}.key ${JSON.stringify(ref.key)} is given twice`, `${field}.key`);
      if (!texts.includes(ref.key.trim())) throw badInput(`${field}.key ${JSON.stringify(ref.key)} is not a model of the recipe (${texts.map((t) => JSON.stringify(t)).join(", ")})`, `${field}.key`);
      byKey.set(ref.key.trim(), { ref, field });
    });
    const ids: string[] = [];
    for (const text of texts) {
      const bound = byKey.get(text);
      const field = bound ? bound.field : "recipeYaml.models";
      const id = bound ? (bound.ref.id ?? null) : text.includes("@") ? null : text;
      const nameVersion = bound ? (bound.ref.nameVersion ?? null) : text.includes("@") ? text : null;
      let found: { id: string } | null = null;
      if (id !== null) {
        found = await this.db.model.findFirst({ where: { id, deletedAt: null }, select: { id: true } });
      } else {
        const at = nameVersion!.lastIndexOf("@");
        const [name, version] = at > 0 ? [nameVersion!.slice(0, at), nameVersion!.slice(at + 1)] : [nameVersion!, ""];
        found = await this.db.model.findFirst({ where: { name, version, deletedAt: null }, select: { id: true } });
      }
      if (!found) {
        const how = bound ? (id !== null ? `id ${JSON.stringify(id)}` : `nameVersion ${JSON.stringify(nameVersion)}`) : JSON.stringify(text);
        throw badInput(`model ${JSON.stringify(text)} of the recipe cannot be resolved: ${how} is not a live model (bind it with modelRefs: { key, id | nameVersion }, or write it as name@version or an id)`, field);
      }
      ids.push(found.id);
    }
    return ids;
  }
}
