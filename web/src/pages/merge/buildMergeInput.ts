/** The builder's URL state as a StartMergeInput, or the reason it cannot be one yet. */
export interface BuilderState {
  anchor: string;
  contributors: string[];
  method: string;
  base: string;
  schedule: string;
  cutoff: string;
  knots: string;
  weights: Record<string, string>;
  params: Record<string, string>;
  outputName: string;
  outputTags: string;
}

export const PARAM_FIELDS = ["lambda", "density", "dropRate", "seed"];

function number(text: string, what: string): number {
  const value = Number(text.trim());
  if (text.trim() === "" || !Number.isFinite(value)) throw new Error(`${what} must be a number (got “${text}”)`);
  return value;
}

export function buildMergeInput(state: BuilderState, needsBase: boolean): { input?: Record<string, unknown>; problem?: string } {
  if (!state.anchor) return { problem: "Choose an anchor model." };
  if (!state.contributors.length) return { problem: "Choose at least one contributor to merge into the anchor." };
  if (needsBase && !state.base) return { problem: `${state.method} needs a base model (the common pre-trained weights).` };
  try {
    const input: Record<string, unknown> = { anchorId: state.anchor, modelIds: state.contributors, method: state.method || "LAYERWISE" };
    const schedule: Record<string, unknown> = { kind: state.schedule || "LINEAR" };
    if (schedule.kind === "STEP" && state.cutoff.trim()) schedule.cutoff = number(state.cutoff, "The cutoff");
    if (schedule.kind === "CUSTOM") schedule.knots = state.knots.split(/[\s,]+/).filter(Boolean).map((k, i) => number(k, `Knot ${i + 1}`));
    input.schedule = schedule;
    if (needsBase) input.baseModelId = state.base;
    const weights = state.contributors.map((id) => state.weights[id]?.trim() ?? "");
    if (weights.some((w) => w !== "")) input.weights = weights.map((w, i) => (w === "" ? 1 : number(w, `The relative weight of contributor ${i + 1}`)));
    const params: Record<string, number> = {};
    for (const field of PARAM_FIELDS) {
      const text = state.params[field]?.trim();
      if (text) params[field] = number(text, field);
    }
    if (Object.keys(params).length) input.params = params;
    const output: Record<string, unknown> = {};
    if (state.outputName.trim()) output.name = state.outputName.trim();
    const tags = state.outputTags.split(",").map((t) => t.trim()).filter(Boolean);
    if (tags.length) output.tags = tags;
    if (Object.keys(output).length) input.output = output;
    return { input };
  } catch (error) {
    return { problem: (error as Error).message };
  }
}
