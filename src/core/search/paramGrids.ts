import { badInput, DomainError } from "../errors";
import { MERGE_METHODS, resolveMethodParams, type MergeMethodName } from "../merge/mergeMethods";

/** A method's parameter grid as asked for: per parameter, the values to try. */
export interface ParamGridInput {
  method: string;
  parameters: ReadonlyArray<{ name: string; values: readonly number[] }>;
}

export interface ParamGrid {
  method: MergeMethodName;
  /** Every combination of the values, the first parameter varying slowest; unnamed parameters at their defaults. */
  points: Record<string, number>[];
}

/** A grid larger than this is a mistake, not a search (each point multiplies every model set × schedule). */
export const MAX_PARAM_GRID_POINTS = 1_000;

/**
 * Checks each method's grid against the registry (a method of the search, named once; known
 * parameters, each named once; every value valid for the method, as startMerge checks it) and
 * expands it to its points. Each point holds the parameters as given, so a candidate's recipe
 * reads as the user wrote it; its key resolves defaults, so a value equal to the default is the
 * candidate without a grid.
 */
export function expandParamGrids(grids: readonly ParamGridInput[], methods: readonly string[]): ParamGrid[] {
  const seen = new Set<string>();
  return grids.map((grid, i) => {
    const field = `input.paramGrids.${i}`;
    if (!methods.includes(grid.method)) throw badInput(`${field}.method ${grid.method} is not one of input.methods (${methods.join(", ")})`, `${field}.method`);
    if (seen.has(grid.method)) throw badInput(`${field}.method: ${grid.method} has two grids; give one with every parameter`, `${field}.method`);
    seen.add(grid.method);
    const method = grid.method as MergeMethodName;
    const schema = MERGE_METHODS[method].parameters;
    if (grid.parameters.length === 0) throw badInput(`${field}.parameters must name at least one parameter`, `${field}.parameters`);
    const names = new Set<string>();
    grid.parameters.forEach((p, j) => {
      const at = `${field}.parameters.${j}`;
      if (!schema.some((s) => s.name === p.name)) {
        const known = schema.length ? `its parameters are ${schema.map((s) => s.name).join(", ")}` : "it takes no parameters";
        throw badInput(`${at}.name: ${method} has no parameter ${JSON.stringify(p.name)}; ${known}`, `${at}.name`);
      }
      if (names.has(p.name)) throw badInput(`${at}.name: ${p.name} is given twice`, `${at}.name`);
      names.add(p.name);
      if (p.values.length === 0) throw badInput(`${at}.values must list at least one value`, `${at}.values`);
      p.values.forEach((v, k) => {
        try {
          resolveMethodParams(method, { [p.name]: v });
        } catch (error) {
          if (error instanceof DomainError) throw badInput(error.message, `${at}.values.${k}`);
          throw error;
        }
      });
      if (new Set(p.values).size !== p.values.length) throw badInput(`${at}.values lists a value twice`, `${at}.values`);
    });
    const size = grid.parameters.reduce((n, p) => n * p.values.length, 1);
    if (size > MAX_PARAM_GRID_POINTS) throw badInput(`${field} has ${size} points; at most ${MAX_PARAM_GRID_POINTS}`, `${field}.parameters`);
    let points: Record<string, number>[] = [{}];
    for (const p of grid.parameters) points = points.flatMap((point) => p.values.map((v) => ({ ...point, [p.name]: v })));
    return { method, points };
  });
}
