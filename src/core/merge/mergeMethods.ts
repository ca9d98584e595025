import { badInput } from "../errors";

import { METHODS, type MergeMethodName } from "./methods";
import type { MergeMethodDefinition } from "./methods/mergeMethod";

export type { MergeMethodName } from "./methods";
export type { MethodParameter } from "./methods/mergeMethod";
export type MergeMethod = MergeMethodDefinition<MergeMethodName>;

/** Merge method names, in registry order; the GraphQL enum is derived from them. */
export const MERGE_METHOD_NAMES: readonly MergeMethodName[] = Object.freeze(METHODS.map((m) => m.name));

export const DEFAULT_MERGE_METHOD: MergeMethodName = "LAYERWISE";

/**
 * The registry keyed by name (as mergekit's: each strategy with its parameter schema and paper).
 * Schedules (mergeSchedule.ts) give every method its per-layer weights w_k(l); with the UNIFORM
 * schedule TA/TIES/DARE are the published methods.
 */
export const MERGE_METHODS: Readonly<Record<MergeMethodName, MergeMethod>> = Object.freeze(
  Object.fromEntries(METHODS.map((m) => [m.name, m])) as Record<MergeMethodName, MergeMethod>,
);

/** A known method name, else BAD_USER_INPUT listing the valid ones. */
export function resolveMethodName(name: string | null | undefined): MergeMethodName {
  const value = name ?? DEFAULT_MERGE_METHOD;
  if (!(MERGE_METHOD_NAMES as readonly string[]).includes(value)) {
    throw badInput(`unknown merge method ${JSON.stringify(value)}; expected one of ${MERGE_METHOD_NAMES.join(", ")}`, "input.method");
  }
  return value as MergeMethodName;
}

/**
 * Checks `params` against the method's schema and fills defaults: the exact parameter set a
 * merge record stores, so that the merge can be re-run.
 */
export function resolveMethodParams(method: MergeMethodName, params: Readonly<Record<string, unknown>> | null | undefined): Record<string, number> {
  const schema = MERGE_METHODS[method].parameters;
  const given = params ?? {};
  for (const key of Object.keys(given)) {
    if (!schema.some((p) => p.name === key)) {
      const known = schema.length ? `its parameters are ${schema.map((p) => p.name).join(", ")}` : "it takes no parameters";
      throw badInput(`${method} has no parameter ${JSON.stringify(key)}; ${known}`, `input.params.${key}`);
    }
  }
  const resolved: Record<string, number> = {};
  for (const p of schema) {
    const raw = given[p.name];
    const value = raw === undefined || raw === null ? p.default : raw;
    const field = `input.params.${p.name}`;
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw badInput(`${method} parameter ${p.name} must be a finite number, got ${JSON.stringify(value)}`, field);
    }
    if (p.type === "INT" && !Number.isInteger(value)) {
      throw badInput(`${method} parameter ${p.name} must be an integer, got ${value}`, field);
    }
    const aboveMin = p.minInclusive ? value >= p.min : value > p.min;
    const belowMax = p.maxInclusive ? value <= p.max : value < p.max;
    if (!aboveMin || !belowMax) {
      const range = `${p.minInclusive ? "[" : "("}${p.min}, ${p.max}${p.maxInclusive ? "]" : ")"}`;
      throw badInput(`${method} parameter ${p.name} must be in ${range}, got ${value}`, field);
    }
    resolved[p.name] = value;
  }
  return resolved;
}
