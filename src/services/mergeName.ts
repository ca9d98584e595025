/**
 * The name a merge's model gets when the request names none: `<anchor>-<method>-<schedule>-<hash8>`,
 * the anchor's name, the method and the schedule's kind in lower case, and the first 8 hex
 * digits of the recipe hash (Merge.recipeHash), e.g. `segformer-gta-layerwise-uniform-3f2a9c01`.
 * The schedule is always named: every method reads its per-layer weights from it, and two merges
 * that differ only in their schedule should not look alike in a list. The hash tells apart
 * recipes that differ in anything else (inputs, parameters, a STEP cutoff, CUSTOM knots).
 */
export function defaultMergeName(anchorName: string, method: string, scheduleKind: string, recipeHash: string): string {
  return `${anchorName}-${method.toLowerCase()}-${scheduleKind.toLowerCase()}-${recipeHash.slice(0, 8)}`;
}
