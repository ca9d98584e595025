import { badInput } from "../errors";

/** Schedule kinds (docs/CONVENTIONS.md, Layer-wise weights); the GraphQL enum derives from these. */
export const SCHEDULE_KINDS = ["LINEAR", "STEP", "COSINE", "UNIFORM", "CUSTOM"] as const;
export type ScheduleKind = (typeof SCHEDULE_KINDS)[number];

export const DEFAULT_STEP_CUTOFF = 0.5;

/** CUSTOM knots for the tensors whose names start with `prefix` (a parameter group). */
export interface ScheduleGroup {
  prefix: string;
  knots: number[];
}

/**
 * A validated schedule with its defaults filled in: what a merge record stores. `groups`, when
 * given, override it for the tensors of their prefix (the longest matching prefix wins).
 */
export type MergeSchedule = (
  | { kind: "LINEAR" }
  | { kind: "COSINE" }
  | { kind: "UNIFORM" }
  | { kind: "STEP"; cutoff: number }
  | { kind: "CUSTOM"; knots: number[] }
) & { groups?: ScheduleGroup[] };

/** A schedule as a caller gives it (GraphQL `schedule { kind cutoff knots groups }`). */
export interface ScheduleInput {
  kind?: string | null;
  cutoff?: number | null;
  knots?: readonly number[] | null;
  groups?: ReadonlyArray<{ prefix: string; knots: readonly number[] }> | null;
}

const FIELD = "input.schedule";

/** Checks a caller's schedule and fills defaults (LINEAR; STEP cutoff 0.5). */
export function resolveSchedule(input: ScheduleInput | null | undefined): MergeSchedule {
  const base = resolveBase(input);
  if (!input?.groups?.length) return base;
  const seen = new Set<string>();
  const groups = input.groups.map((g, i) => {
    const field = `${FIELD}.groups.${i}`;
    if (typeof g.prefix !== "string" || g.prefix === "") throw badInput("a parameter group needs a non-empty tensor-name prefix", `${field}.prefix`);
    if (seen.has(g.prefix)) throw badInput(`the prefix ${JSON.stringify(g.prefix)} is given twice`, `${field}.prefix`);
    seen.add(g.prefix);
    return { prefix: g.prefix, knots: checkKnots(g.knots, `${field}.knots`) };
  });
  return { ...base, groups };
}

/** The schedule that weighs tensor `name`: its group's CUSTOM knots (longest prefix), else the schedule. */
export function scheduleFor(schedule: MergeSchedule, name: string): MergeSchedule {
  let best: ScheduleGroup | null = null;
  for (const g of schedule.groups ?? []) if (name.startsWith(g.prefix) && (!best || g.prefix.length > best.prefix.length)) best = g;
  return best ? { kind: "CUSTOM", knots: best.knots } : schedule;
}

function checkKnots(knots: readonly number[] | null | undefined, field: string): number[] {
  if (!knots || knots.length < 2) throw badInput("a CUSTOM schedule needs at least 2 knots (the values of s at t = 0 and t = 1)", field);
  knots.forEach((k, i) => {
    if (!Number.isFinite(k) || k < 0 || k > 1) throw badInput(`knot ${i} must be in [0, 1], got ${k}`, `${field}.${i}`);
  });
  return [...knots];
}

function resolveBase(input: ScheduleInput | null | undefined): MergeSchedule {
  const kind = input?.kind ?? "LINEAR";
  if (!(SCHEDULE_KINDS as readonly string[]).includes(kind)) {
    throw badInput(`unknown schedule kind ${JSON.stringify(kind)}; expected one of ${SCHEDULE_KINDS.join(", ")}`, `${FIELD}.kind`);
  }
  const cutoff = input?.cutoff ?? undefined;
  const knots = input?.knots ?? undefined;
  if (cutoff !== undefined && kind !== "STEP") {
    throw badInput(`cutoff applies only to the STEP schedule, not ${kind}`, `${FIELD}.cutoff`);
  }
  if (knots !== undefined && kind !== "CUSTOM") {
    throw badInput(`knots apply only to the CUSTOM schedule, not ${kind}`, `${FIELD}.knots`);
  }
  switch (kind as ScheduleKind) {
    case "STEP": {
      const value = cutoff ?? DEFAULT_STEP_CUTOFF;
      if (!Number.isFinite(value) || value < 0 || value > 1) {
        throw badInput(`STEP cutoff must be in [0, 1], got ${value}`, `${FIELD}.cutoff`);
      }
      return { kind: "STEP", cutoff: value };
    }
    case "CUSTOM":
      return { kind: "CUSTOM", knots: checkKnots(knots, `${FIELD}.knots`) };
    default:
      return { kind: kind as "LINEAR" | "COSINE" | "UNIFORM" };
  }
}

/**
 * Position of layer l among L layers: t = l / (L − 1), and t = 1 when L = 1
 * (docs/CONVENTIONS.md, Layer-wise weights).
 */
export function layerPosition(layerIndex: number, layerCount: number): number {
  return layerCount <= 1 ? 1 : layerIndex / (layerCount - 1);
}

/**
 * s(t) ∈ [0, 1]: how far layer t leans to the anchor (0 = plain average, 1 = anchor only).
 * CUSTOM knots are values of s at evenly spaced t in [0, 1], interpolated linearly, as
 * mergekit's gradient lists.
 */
export function scheduleValue(schedule: MergeSchedule, t: number): number {
  switch (schedule.kind) {
    case "LINEAR":
      return t;
    case "STEP":
      return t >= schedule.cutoff ? 1 : 0;
    case "COSINE":
      return (1 - Math.cos(Math.PI * t)) / 2;
    case "UNIFORM":
      return 0;
    case "CUSTOM": {
      const { knots } = schedule;
      const x = t * (knots.length - 1);
      const i = Math.min(Math.floor(x), knots.length - 2);
      const f = x - i;
      return knots[i] + f * (knots[i + 1] - knots[i]);
    }
  }
}
