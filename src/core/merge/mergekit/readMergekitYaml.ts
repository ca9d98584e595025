import { parse } from "yaml";
import { badInput, DomainError } from "../../errors";
import type { MergeMethodName } from "../mergeMethods";
import { resolveSchedule, type MergeSchedule } from "../mergeSchedule";
import { MERGEKIT_METHODS, methodForMergekit, type MergekitMethod, type MergekitParameter } from "./mergekitMethods";
import { weightLists } from "./writeMergekitYaml";

/** A mergekit config read as a merge request, its models still as the config names them. */
export interface ReadRecipe {
  method: MergeMethodName;
  schedule: MergeSchedule;
  /** The method's parameters in the registry's names (checked by the planner). */
  params: Record<string, number>;
  weights: number[] | null;
  anchor: string;
  contributors: string[];
  base: string | null;
  /** From the `layermerge:` block, when it says them: checked against the anchor by the caller. */
  layers: { count: number | null; order: string | null };
}

export const MAX_RECIPE_YAML_CHARS = 1_000_000;
/** Keys a mergekit config may hold that do not change the arithmetic (output dtype, tokenizer…). */
const IGNORED_KEYS = new Set(["dtype", "out_dtype", "tokenizer_source", "tokenizer", "chat_template", "name"]);
const TOP_KEYS = new Set(["merge_method", "base_model", "models", "parameters", "layermerge", ...IGNORED_KEYS]);
const BLOCK_KEYS = new Set(["anchor", "schedule", "relative_weights", "layers", "layer_order"]);
/** Per layer, a config's weights and the schedule's may differ by rounding only. */
const TOLERANCE = 1e-9;

const F = "recipeYaml";
type Mapping = Record<string, unknown>;
const isMapping = (v: unknown): v is Mapping => v !== null && typeof v === "object" && !Array.isArray(v);
const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/**
 * Reads a mergekit config (`merge_method`, `base_model`, `models` with `weight` and the method's
 * parameters) and the `layermerge:` block writeMergekitYaml adds. The anchor is the block's
 * `anchor`, else the first model; a `base_model` also listed in `models` is only the base. With
 * the block's `schedule`, the weight lists must be the ones it gives; without it, the lists are
 * read as a CUSTOM schedule (the anchor's share per knot) and relative weights (the contributors'
 * proportions, which must be the same at every knot): docs/CONVENTIONS.md, mergekit configs.
 */
export function readMergekitYaml(text: string): ReadRecipe {
  if (typeof text !== "string" || text.length > MAX_RECIPE_YAML_CHARS) throw badInput(`${F} must be a YAML text of at most ${MAX_RECIPE_YAML_CHARS} characters`, F);
  let config: unknown;
  try {
    config = parse(text, { uniqueKeys: true, maxAliasCount: 100 });
  } catch (error) {
    throw badInput(`${F} is not valid YAML: ${(error as Error).message.split("\n")[0]}`, F);
  }
  if (!isMapping(config)) throw badInput(`${F} must be a mapping (merge_method, models, …)`, F);
  if ("slices" in config) throw badInput(`${F}.slices: slice-wise configs are not supported; list whole models under models`, `${F}.slices`);
  for (const key of Object.keys(config)) if (!TOP_KEYS.has(key)) throw badInput(`${F}: unknown key ${JSON.stringify(key)}`, `${F}.${key}`);

  const methodName = config.merge_method;
  const method = typeof methodName === "string" ? methodForMergekit(methodName) : undefined;
  if (!method) {
    const known = Object.values(MERGEKIT_METHODS).map((m) => m!.mergeMethod).join(", ");
    throw badInput(`${F}.merge_method ${JSON.stringify(methodName ?? null)} is not supported; expected one of ${known}`, `${F}.merge_method`);
  }
  const mapping = MERGEKIT_METHODS[method]!;
  const base = config.base_model == null ? null : text_(config.base_model, `${F}.base_model`);
  const block = config.layermerge == null ? {} : config.layermerge;
  if (!isMapping(block)) throw badInput(`${F}.layermerge must be a mapping`, `${F}.layermerge`);
  const blockKeys = new Set([...BLOCK_KEYS, ...mapping.parameters.filter((p) => p.place === "layermerge").map((p) => p.key)]);
  for (const key of Object.keys(block)) if (!blockKeys.has(key)) throw badInput(`${F}.layermerge: unknown key ${JSON.stringify(key)}`, `${F}.layermerge.${key}`);

  // Models, each with its index in the file (for messages), the base left out.
  if (!Array.isArray(config.models) || config.models.length === 0) throw badInput(`${F}.models must list the models to merge`, `${F}.models`);
  const entries = config.models.map((m, i) => {
    const field = `${F}.models.${i}`;
    if (!isMapping(m)) throw badInput(`${field} must be a mapping with a model`, field);
    const params = m.parameters == null ? {} : m.parameters;
    if (!isMapping(params)) throw badInput(`${field}.parameters must be a mapping`, `${field}.parameters`);
    return { index: i, model: text_(m.model, `${field}.model`), params, field };
  }).filter((e) => e.model !== base);
  // slerp interpolates from its base_model: that is the anchor, not a base of task vectors.
  const interpolated = mapping.weights === "t";
  if (interpolated && base === null) throw badInput(`${F}.base_model must name the model ${mapping.mergeMethod} interpolates from (t = 0), the anchor`, `${F}.base_model`);
  if (interpolated) entries.unshift({ index: -1, model: base!, params: {}, field: `${F}.base_model` });
  const anchorText = block.anchor == null ? entries[0]?.model : text_(block.anchor, `${F}.layermerge.anchor`);
  const anchor = entries.find((e) => e.model === anchorText);
  if (!anchor) throw badInput(`${F}.layermerge.anchor ${JSON.stringify(anchorText ?? null)} is not one of the models`, `${F}.layermerge.anchor`);
  if (interpolated && anchor !== entries[0]) throw badInput(`${F}.layermerge.anchor ${JSON.stringify(anchorText)} must be the base_model ${JSON.stringify(base)}: ${mapping.mergeMethod} interpolates from it`, `${F}.layermerge.anchor`);
  const ordered = [anchor, ...entries.filter((e) => e !== anchor)];
  const seen = new Set<string>();
  for (const e of ordered) {
    if (seen.has(e.model)) throw badInput(`${e.field}.model ${JSON.stringify(e.model)} is listed twice`, `${e.field}.model`);
    seen.add(e.model);
  }

  const global = config.parameters == null ? {} : config.parameters;
  if (!isMapping(global)) throw badInput(`${F}.parameters must be a mapping`, `${F}.parameters`);
  const params = readParameters(mapping.parameters, mapping.weights, global, ordered, block);
  let read: { schedule: MergeSchedule; weights: number[] | null };
  if (mapping.weights === "perModel") {
    const fieldOf = (k: number) => (ordered[k].params.weight != null ? `${ordered[k].field}.parameters.weight` : `${F}.parameters.weight`);
    const lists = ordered.map((m, k) => weightOf(m.params.weight ?? global.weight, fieldOf(k)));
    read = readWeights(global, lists, ordered.map((m) => m.model), fieldOf, block);
  } else if (mapping.weights === "t") {
    // t is the contributor's weight, so the anchor's is 1 − t: the same lists a linear config has.
    const t = weightOf(global.t, `${F}.parameters.t`);
    if (t.some((v) => v > 1)) throw badInput(`${F}.parameters.t must be in [0, 1]`, `${F}.parameters.t`);
    read = readWeights(global, [t.map((v) => 1 - v), t], ordered.map((m) => m.model), () => `${F}.parameters.t`, block);
  } else {
    read = { schedule: block.schedule == null ? { kind: "UNIFORM" } : weightsFromBlock(block, null, () => `${F}.layermerge.schedule`).schedule, weights: null };
  }
  const { schedule, weights } = read;

  const layers = block.layers == null ? null : block.layers;
  if (layers !== null && (!Number.isInteger(layers) || (layers as number) < 1)) throw badInput(`${F}.layermerge.layers must be a positive integer`, `${F}.layermerge.layers`);
  const order = block.layer_order == null ? null : text_(block.layer_order, `${F}.layermerge.layer_order`);
  return { method, schedule, params, weights, anchor: anchor.model, contributors: ordered.slice(1).map((e) => e.model), base: interpolated ? null : base, layers: { count: layers as number | null, order } };
}

function text_(value: unknown, field: string): string {
  if (typeof value === "string" && value.trim()) return value.trim();
  if (typeof value === "number") return String(value);
  throw badInput(`${field} must name a model (name@version or an id)`, field);
}

interface Entry {
  index: number;
  model: string;
  params: Mapping;
  field: string;
}

function readParameters(table: readonly MergekitParameter[], weightsAt: MergekitMethod["weights"], global: Mapping, models: Entry[], block: Mapping): Record<string, number> {
  const perModel = table.filter((p) => p.place === "perModel").map((p) => p.key);
  const weightKeys = weightsAt === "perModel" ? ["normalize", "weight"] : weightsAt === "t" ? ["t"] : [];
  const globalKeys = new Set(["int8_mask", "rescale", ...table.filter((p) => p.place === "global").map((p) => p.key), ...perModel, ...weightKeys]);
  for (const key of Object.keys(global)) if (!globalKeys.has(key)) throw badInput(`${F}.parameters.${key} is not a parameter of this merge method`, `${F}.parameters.${key}`);
  const modelKeys = new Set([...(weightsAt === "perModel" ? ["weight"] : []), ...perModel]);
  for (const m of models) {
    for (const key of Object.keys(m.params)) if (!modelKeys.has(key)) throw badInput(`${m.field}.parameters.${key} is not a per-model parameter of this merge method`, `${m.field}.parameters.${key}`);
  }
  if (global.rescale === false) throw badInput(`${F}.parameters.rescale: false is not supported; DARE here always rescales the kept entries by 1/density`, `${F}.parameters.rescale`);

  const params: Record<string, number> = {};
  for (const p of table) {
    let value: unknown;
    let field: string;
    if (p.place === "global") [value, field] = [global[p.key], `${F}.parameters.${p.key}`];
    else if (p.place === "layermerge") [value, field] = [block[p.key], `${F}.layermerge.${p.key}`];
    else {
      // One value for every model (the registry has one); a model may inherit the global one.
      const given = models.map((m) => ({ value: m.params[p.key] ?? global[p.key], field: m.params[p.key] != null ? `${m.field}.parameters.${p.key}` : `${F}.parameters.${p.key}` })).filter((g) => g.value != null);
      const first = given[0];
      const other = given.find((g) => g.value !== first?.value);
      if (other) throw badInput(`${other.field} is ${JSON.stringify(other.value)} but ${first.field} is ${JSON.stringify(first.value)}; ${p.key} is one value for every model here`, other.field);
      [value, field] = [first?.value, first?.field ?? `${F}.parameters.${p.key}`];
    }
    if (value == null) continue;
    if (!isNumber(value)) throw badInput(`${field} must be a number${Array.isArray(value) ? " (gradient lists apply to weight only)" : ""}`, field);
    params[p.name] = p.fromConfig ? p.fromConfig(value) : value;
  }
  return params;
}

/** A `weight`: a number, or a gradient list of numbers (mergekit's filtered forms are refused). */
function weightOf(value: unknown, field: string): number[] {
  if (value == null) return [1];
  if (isNumber(value)) return [value];
  if (Array.isArray(value) && value.length > 0 && value.every(isNumber)) return value;
  if (Array.isArray(value) && value.some(isMapping)) throw badInput(`${field}: weights by tensor filter are not supported; give a number or a list of numbers`, field);
  throw badInput(`${field} must be a number or a non-empty list of numbers`, field);
}

/** A gradient list's value at t ∈ [0, 1] (linear interpolation between evenly spaced values, as mergekit's gradients). */
function at(list: number[], t: number): number {
  if (list.length === 1) return list[0];
  const x = t * (list.length - 1);
  const i = Math.min(Math.floor(x), list.length - 2);
  return list[i] + (x - i) * (list[i + 1] - list[i]);
}

/** Each model's weight list (anchor first) read as a schedule and relative weights. */
function readWeights(global: Mapping, lists: number[][], names: string[], fieldOf: (k: number) => string, block: Mapping): { schedule: MergeSchedule; weights: number[] | null } {
  lists.forEach((list, k) => {
    if (list.some((v) => v < 0)) throw badInput(`${fieldOf(k)} must not be negative`, fieldOf(k));
  });
  if (block.schedule != null) return weightsFromBlock(block, lists, fieldOf);

  // No schedule given: the anchor's share of each knot is the schedule, 1/N + (1 − 1/N)·s.
  const n = lists.length;
  const knots = Math.max(...lists.map((l) => l.length));
  const s: number[] = [];
  let relative: number[] | null = null;
  for (let j = 0; j < knots; j++) {
    const t = knots === 1 ? 0 : j / (knots - 1);
    const w = lists.map((l) => at(l, t));
    const total = w.reduce((a, b) => a + b, 0);
    if (!(total > 0)) throw badInput(`${F}.models: the weights sum to 0 at knot ${j}`, `${F}.models`);
    if (global.normalize === false && Math.abs(total - 1) > TOLERANCE) {
      throw badInput(`${F}.parameters.normalize: false with weights summing to ${total} at knot ${j}; here the weights of a layer always sum to 1`, `${F}.parameters.normalize`);
    }
    const share = w[0] / total;
    const value = n === 1 ? 1 : (share - 1 / n) / (1 - 1 / n);
    if (value < -TOLERANCE) throw badInput(`${fieldOf(0)}: the anchor (${names[0]}) weighs ${share} of knot ${j}, less than an equal share 1/${n}; the anchor's share runs from 1/N (an average) to 1`, fieldOf(0));
    s.push(Math.min(1, Math.max(0, value)));
    const rest = total - w[0];
    if (rest > 0) {
      const proportions = w.slice(1).map((v) => v / rest);
      if (!relative) relative = proportions;
      else if (proportions.some((p, i) => Math.abs(p - relative![i]) > TOLERANCE)) {
        throw badInput(`${F}.models: the contributors' weights are not in the same proportions at every knot (knot ${j}); here they split what the anchor leaves in fixed proportions`, `${F}.models`);
      }
    }
  }
  const schedule: MergeSchedule = s.every((v) => v === 0) ? { kind: "UNIFORM" } : { kind: "CUSTOM", knots: s.length === 1 ? [s[0], s[0]] : s };
  const equal = relative && relative.every((p) => Math.abs(p - relative![0]) <= TOLERANCE);
  return { schedule, weights: relative && !equal ? relative : null };
}

/** The block's schedule and relative weights, with the weight lists (when the config has them) checked against them. */
function weightsFromBlock(block: Mapping, lists: number[][] | null, fieldOf: (k: number) => string): { schedule: MergeSchedule; weights: number[] | null } {
  let schedule: MergeSchedule;
  try {
    schedule = resolveSchedule(isMapping(block.schedule) ? (block.schedule as never) : { kind: block.schedule as string });
  } catch (error) {
    if (error instanceof DomainError) throw badInput(`${F}.layermerge.schedule: ${error.message}`, `${F}.layermerge.schedule`);
    throw error;
  }
  if (!lists) return { schedule, weights: null };
  const relative = block.relative_weights == null ? null : block.relative_weights;
  if (relative !== null && !(Array.isArray(relative) && relative.every(isNumber))) throw badInput(`${F}.layermerge.relative_weights must be a list of numbers`, `${F}.layermerge.relative_weights`);
  if (relative && relative.length !== lists.length - 1) {
    throw badInput(`${F}.layermerge.relative_weights has ${relative.length} entries for ${lists.length - 1} contributors`, `${F}.layermerge.relative_weights`);
  }
  const count = Number.isInteger(block.layers) ? (block.layers as number) : Math.max(...lists.map((l) => l.length));
  const expected = weightLists(schedule, count, lists.length - 1, relative as number[] | null);
  lists.forEach((list, k) => {
    const matches = list.length === 1 ? expected[k].every((v) => Math.abs(v - list[0]) <= TOLERANCE) : list.length === count && list.every((v, l) => Math.abs(v - expected[k][l]) <= TOLERANCE);
    if (!matches) {
      throw badInput(
        `${fieldOf(k)} is not what layermerge.schedule and relative_weights give over ${count} layers; the lists are derived from them: edit those, or remove layermerge.schedule to read the lists as a CUSTOM schedule`,
        fieldOf(k),
      );
    }
  });
  return { schedule, weights: relative as number[] | null };
}
