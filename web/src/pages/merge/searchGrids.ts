import type { MethodInfo } from "./methodInfo";

/** A search's grid for one method, as MergeSearchInput.paramGrids takes it. */
export interface ParamGrid {
  method: string;
  parameters: Array<{ name: string; values: number[] }>;
}

/** The address key holding a method parameter's values to try. */
export const gridKey = (method: string, parameter: string) => `s.g.${method}.${parameter}`;

/**
 * The grids of the chosen methods from their fields ("0.2, 0.5"; blank: the default only), in
 * the registry's parameter order. A value that is not a number is refused naming it; ranges are
 * the server's to check (its refusal names the value too).
 */
export function buildParamGrids(methods: readonly MethodInfo[], chosen: readonly string[], text: (key: string) => string): ParamGrid[] | undefined {
  const grids: ParamGrid[] = [];
  for (const method of methods) {
    if (!chosen.includes(method.name)) continue;
    const parameters: ParamGrid["parameters"] = [];
    for (const p of method.parameters) {
      const raw = text(gridKey(method.name, p.name)).trim();
      if (!raw) continue;
      const values = raw.split(",").map((item) => {
        const n = Number(item.trim());
        if (item.trim() === "" || !Number.isFinite(n)) throw new Error(`${method.name} ${p.name}: “${item.trim()}” is not a number (values are separated by commas)`);
        return n;
      });
      parameters.push({ name: p.name, values });
    }
    if (parameters.length) grids.push({ method: method.name, parameters });
  }
  return grids.length ? grids : undefined;
}
