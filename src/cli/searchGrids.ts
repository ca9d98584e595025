import { DomainError } from "../core/errors";
import { MERGE_METHOD_NAMES, MERGE_METHODS, type MergeMethodName } from "../core/merge/mergeMethods";
import { expandParamGrids, type ParamGridInput } from "../core/search";

/*
 * The search command's method, schedule and parameter-grid flags, read into MergeSearchInput
 * fields and checked here against the method registry, so a mistake is named by the flag and the
 * value the user typed rather than by a GraphQL field path.
 */

const refuse = (message: string) => new DomainError("BAD_USER_INPUT", message);

/** `TIES`, `ties`, `task-arithmetic` → the registry's name. */
function methodName(text: string, flag: string, raw: string): MergeMethodName {
  const name = text.trim().toUpperCase().replace(/-/g, "_");
  if (!(MERGE_METHOD_NAMES as readonly string[]).includes(name)) {
    throw refuse(`${flag} ${JSON.stringify(raw)}: unknown method ${JSON.stringify(text)}; expected one of ${MERGE_METHOD_NAMES.join(", ")}`);
  }
  return name as MergeMethodName;
}

/** `--methods ties,dare`: the registry names, case and dashes aside. */
export function parseMethods(value: string | undefined): MergeMethodName[] | undefined {
  if (value === undefined) return undefined;
  return value.split(",").map((m) => methodName(m, "--methods", value));
}

/** `--schedules uniform,linear,step:0.5,cosine` (a STEP's cutoff after a colon). */
export function parseSchedules(value: string | undefined): Array<{ kind: string; cutoff?: number }> | undefined {
  if (value === undefined) return undefined;
  return value.split(",").map((item) => {
    const [kind, cutoff, extra] = item.trim().split(":");
    if (extra !== undefined || !kind) throw refuse(`--schedules ${JSON.stringify(value)}: ${JSON.stringify(item)} is not KIND or STEP:CUTOFF`);
    if (cutoff === undefined) return { kind: kind.toUpperCase() };
    const n = Number(cutoff);
    if (cutoff.trim() === "" || !Number.isFinite(n)) throw refuse(`--schedules ${JSON.stringify(value)}: cutoff ${JSON.stringify(cutoff)} is not a number`);
    return { kind: kind.toUpperCase(), cutoff: n };
  });
}

/**
 * `--grid METHOD.PARAMETER=v1,v2,…`, once per parameter; grids of one method join (the first
 * parameter named varies slowest). Parameter names as the registry spells them, case and dashes
 * aside (`drop-rate` is `dropRate`).
 */
export function parseGrids(flags: readonly string[], methods: readonly string[]): ParamGridInput[] | undefined {
  if (flags.length === 0) return undefined;
  const grids: Array<{ method: MergeMethodName; parameters: Array<{ name: string; values: number[] }>; flags: string[] }> = [];
  for (const raw of flags) {
    const match = /^([^.=]+)\.([^=]+)=(.*)$/.exec(raw);
    if (!match) throw refuse(`--grid ${JSON.stringify(raw)} is not METHOD.PARAMETER=v1,v2,… (e.g. ties.density=0.2,0.5)`);
    const method = methodName(match[1]!, "--grid", raw);
    if (!methods.includes(method)) throw refuse(`--grid ${JSON.stringify(raw)}: ${method} is not among the search's methods (${methods.join(", ")}); add it to --methods`);
    const schema = MERGE_METHODS[method].parameters;
    const wanted = match[2]!.trim().toLowerCase().replace(/[-_]/g, "");
    const parameter = schema.find((p) => p.name.toLowerCase() === wanted);
    if (!parameter) {
      const known = schema.length ? `its parameters are ${schema.map((p) => p.name).join(", ")}` : "it takes no parameters";
      throw refuse(`--grid ${JSON.stringify(raw)}: ${method} has no parameter ${JSON.stringify(match[2])}; ${known}`);
    }
    const values = match[3]!.split(",").map((text) => {
      const n = Number(text);
      if (text.trim() === "" || !Number.isFinite(n)) throw refuse(`--grid ${JSON.stringify(raw)}: ${JSON.stringify(text)} is not a number`);
      return n;
    });
    let grid = grids.find((g) => g.method === method);
    if (!grid) grids.push((grid = { method, parameters: [], flags: [] }));
    if (grid.parameters.some((p) => p.name === parameter.name)) throw refuse(`--grid ${JSON.stringify(raw)}: ${method}.${parameter.name} is given twice`);
    grid.parameters.push({ name: parameter.name, values });
    grid.flags.push(raw);
  }
  const inputs = grids.map(({ method, parameters }) => ({ method, parameters }));
  // The registry's own checks (ranges, repeats, the grid's size), reported against the flag.
  grids.forEach((grid, i) => {
    try {
      expandParamGrids([inputs[i]!], methods);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      const at = /^input\.paramGrids\.0\.parameters\.(\d+)/.exec(error.field ?? "");
      const flag = at ? grid.flags[Number(at[1])]! : grid.flags.join(" ");
      throw refuse(`--grid ${JSON.stringify(flag)}: ${error.message.replace(/^input\.paramGrids\.0\.parameters\.\d+\./, "").replace(/^input\.paramGrids\.0 /, "the grid ")}`);
    }
  });
  return inputs;
}

/** The grid flags' help: each method's parameters, from the registry. */
export function gridHelp(): string {
  return MERGE_METHOD_NAMES.map((name) => {
    const ps = MERGE_METHODS[name].parameters;
    const list = ps.length
      ? ps.map((p) => `${p.name} ${p.minInclusive ? "[" : "("}${p.min}, ${p.max}${p.maxInclusive ? "]" : ")"} (default ${p.default})`).join("; ")
      : "no parameters";
    return `    ${name.padEnd(16)}${list}`;
  }).join("\n");
}
