/** Datasets counted in one request; beyond this the menu's first ones are counted (the aliases cost one count each). */
export const MAX_COUNTED = 100;

/** One request counting, per dataset, the models that target it (`first: 0`: totals, no rows). */
export function mostUsedTargetQuery(ids: string[]): string {
  const vars = ids.map((_, k) => `$d${k}: ID!`).join(", ");
  const counts = ids.map((_, k) => `d${k}: models(where: { targetDatasetId: $d${k} }, first: 0) { totalCount }`).join("\n");
  return `query TargetUse(${vars}) {\n${counts}\n}`;
}

/** The id most models target; ties go to the earlier dataset of `ids`; "" when no model targets any. */
export function pickMostUsed(ids: string[], data: Record<string, { totalCount: number }>): string {
  let best = "";
  let most = 0;
  ids.forEach((id, k) => {
    const n = data[`d${k}`]?.totalCount ?? 0;
    if (n > most) {
      best = id;
      most = n;
    }
  });
  return best;
}
