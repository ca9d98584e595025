/** Datasets counted in one request; beyond this the menu's first ones are counted (the aliases cost one count each). */
export const MAX_COUNTED = 100;

/**
 * One request counting, per dataset, the models with a canonical score on it: the leaderboard's
 * `totalCount` (`first: 0`: totals, no rows).
 */
export function mostScoredQuery(ids: string[]): string {
  const vars = ids.map((_, k) => `$d${k}: ID!`).join(", ");
  const counts = ids.map((_, k) => `d${k}: leaderboard(datasetId: $d${k}, first: 0) { totalCount }`).join("\n");
  return `query ScoreCounts(${vars}) {\n${counts}\n}`;
}

/** The id with the most canonical scores; ties go to the earlier dataset of `ids`; "" when no dataset has one. */
export function pickMostScored(ids: string[], data: Record<string, { totalCount: number }>): string {
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
