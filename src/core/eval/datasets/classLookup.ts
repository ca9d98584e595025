import { DatasetClass, DatasetProblem, DatasetSpec } from "./datasetTypes";

/** Maps dataset label values (classes[].datasetId, default id) to class ids. */
export interface ClassLookup {
  ignoreIndex: number;
  /** Class id of a dataset value, or undefined when the value is not in the class list. */
  classOf(datasetValue: number): number | undefined;
  /** Dense table for 8-bit label PNGs: value → class id, ignoreIndex, or -1 (unknown). */
  table8: Int32Array;
  isThing(classId: number): boolean;
  /** Label maps fit Uint8Array when all class ids and the ignore index are ≤ 255. */
  wide: boolean;
  byId: ReadonlyMap<number, DatasetClass>;
}

/** Checks the class list (ids and dataset ids unique, no clash with the ignore index) and indexes it. */
export function classLookup(spec: Pick<DatasetSpec, "classes" | "ignoreIndex">): { lookup: ClassLookup; problems: DatasetProblem[] } {
  const ignoreIndex = spec.ignoreIndex ?? 255;
  const problems: DatasetProblem[] = [];
  const byId = new Map<number, DatasetClass>();
  const byValue = new Map<number, number>();
  if (spec.classes.length === 0) problems.push({ file: ".", message: "the class list is empty" });
  for (const [i, c] of spec.classes.entries()) {
    const value = c.datasetId ?? c.id;
    if (!Number.isInteger(c.id) || c.id < 0) problems.push({ file: ".", message: `classes.${i}: id ${c.id} must be a non-negative integer` });
    if (!Number.isInteger(value) || value < 0) problems.push({ file: ".", message: `classes.${i}: datasetId ${value} must be a non-negative integer` });
    if (byId.has(c.id)) problems.push({ file: ".", message: `classes.${i}: class id ${c.id} is used twice` });
    if (byValue.has(value)) problems.push({ file: ".", message: `classes.${i}: dataset id ${value} is used twice` });
    if (value === ignoreIndex) problems.push({ file: ".", message: `classes.${i} (${c.name}): dataset id ${value} is the ignore index` });
    if (c.id === ignoreIndex) problems.push({ file: ".", message: `classes.${i} (${c.name}): class id ${c.id} is the ignore index` });
    byId.set(c.id, c);
    byValue.set(value, c.id);
  }
  const table8 = new Int32Array(256).fill(-1);
  for (const [value, id] of byValue) if (value < 256) table8[value] = id;
  if (ignoreIndex >= 0 && ignoreIndex < 256) table8[ignoreIndex] = ignoreIndex;
  const maxId = Math.max(ignoreIndex, ...spec.classes.map((c) => c.id));
  return {
    lookup: {
      ignoreIndex,
      classOf: (v) => byValue.get(v),
      table8,
      isThing: (id) => byId.get(id)?.isThing ?? false,
      wide: maxId > 255,
      byId,
    },
    problems,
  };
}
