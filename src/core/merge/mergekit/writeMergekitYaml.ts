import { Document, isSeq, visit } from "yaml";
import { layerWeights } from "../layerWeights";
import type { MergeMethodName } from "../mergeMethods";
import type { MergeSchedule } from "../mergeSchedule";
import { MERGEKIT_METHODS } from "./mergekitMethods";

/** A merge recipe with its models named as the config names them (name@version). */
export interface MergekitRecipe {
  method: MergeMethodName;
  schedule: MergeSchedule;
  params: Record<string, number>;
  /** Relative weights of the contributors, as given (null: equal). */
  weights: number[] | null;
  anchor: string;
  contributors: string[];
  base: string | null;
  /** The anchor's layer count L (the length of the weight lists) and how its layers are ordered. */
  layers: { count: number; order: string };
}

/**
 * Each model's per-layer weight w_k(l), l = 0..L−1, anchor first (docs/CONVENTIONS.md, Layer-wise
 * weights) — for a tensor every model shares; N is counted per tensor, so a tensor some
 * contributors lack splits the weight among those that have it, as mergekit's `normalize` does.
 */
export function weightLists(schedule: MergeSchedule, layerCount: number, contributors: number, relative: readonly number[] | null): number[][] {
  const r = relative ?? new Array<number>(contributors).fill(1);
  const lists: number[][] = Array.from({ length: contributors + 1 }, () => []);
  for (let l = 0; l < layerCount; l++) layerWeights(schedule, l, layerCount, r).forEach((w, k) => lists[k].push(w));
  return lists;
}

/** A list whose values are all equal is that value, as mergekit reads a scalar. */
const compact = (list: number[]): number | number[] => (list.length > 0 && list.every((v) => v === list[0]) ? list[0] : list);

/**
 * The recipe as a mergekit config: `merge_method`, `base_model`, `models` with their `weight`
 * (a gradient list with one value per layer when the schedule varies; SLERP's contributor weight
 * is the global `t` instead, its anchor the `base_model`) and the method's parameters, plus a `layermerge:` block for what mergekit has no words for (the anchor, the
 * schedule and relative weights the lists come from, the layer order, DARE's seed). Null when
 * the method has no mergekit equivalent.
 */
export function writeMergekitYaml(recipe: MergekitRecipe): string | null {
  const mapping = MERGEKIT_METHODS[recipe.method];
  if (!mapping) return null;
  const models = [recipe.anchor, ...recipe.contributors];
  const lists = weightLists(recipe.schedule, recipe.layers.count, recipe.contributors.length, recipe.weights);
  const value = (name: string) => {
    const p = mapping.parameters.find((q) => q.name === name)!;
    return p.toConfig ? p.toConfig(recipe.params[name]) : recipe.params[name];
  };
  // A parameter a stored recipe lacks (recorded before the parameter existed) is left out.
  const stored = mapping.parameters.filter((p) => typeof recipe.params[p.name] === "number");
  const perModel = stored.filter((p) => p.place === "perModel");
  const global = stored.filter((p) => p.place === "global");
  const block = stored.filter((p) => p.place === "layermerge");

  const config: Record<string, unknown> = { merge_method: mapping.mergeMethod };
  if (mapping.weights === "t") config.base_model = recipe.anchor;
  else if (recipe.base) config.base_model = recipe.base;
  config.models = models.map((model, k) => {
    const parameters: Record<string, unknown> = {};
    if (mapping.weights === "perModel") parameters.weight = compact(lists[k]);
    for (const p of perModel) parameters[p.key] = value(p.name);
    return Object.keys(parameters).length ? { model, parameters } : { model };
  });
  const globals = Object.fromEntries(global.map((p) => [p.key, value(p.name)]));
  // Per layer the weights sum to 1, so normalising changes nothing where every model has the tensor.
  if (mapping.weights === "perModel") config.parameters = { normalize: true, ...globals };
  else if (mapping.weights === "t") config.parameters = { t: compact(lists[1]), ...globals };
  else if (global.length) config.parameters = globals;
  const schedule: Record<string, unknown> = { kind: recipe.schedule.kind };
  if (recipe.schedule.kind === "STEP") schedule.cutoff = recipe.schedule.cutoff;
  if (recipe.schedule.kind === "CUSTOM") schedule.knots = recipe.schedule.knots;
  config.layermerge = {
    anchor: recipe.anchor,
    schedule,
    ...(recipe.weights ? { relative_weights: recipe.weights } : {}),
    layers: recipe.layers.count,
    layer_order: recipe.layers.order,
    ...Object.fromEntries(block.map((p) => [p.key, value(p.name)])),
  };

  const doc = new Document(config);
  // Number lists (weights, knots) on one line, as mergekit's own examples write gradients.
  visit(doc, {
    Seq(_, node) {
      if (isSeq(node) && node.items.every((i) => !(i && typeof i === "object" && "items" in i))) node.flow = true;
    },
  });
  return doc.toString({ flowCollectionPadding: false, lineWidth: 0 });
}
