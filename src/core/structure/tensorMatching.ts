/**
 * How the tensors of two models are paired: by name (the same parameter name on both sides), or by
 * position (the same positional key: the same place in the same upstream graph structure, see
 * positionalKeys). AUTO picks one for each pair of models.
 */
export type TensorMatching = "NAME" | "POSITION";
export type MatchingChoice = TensorMatching | "AUTO";

export const MATCHING_CHOICES: readonly MatchingChoice[] = ["AUTO", "NAME", "POSITION"];

/**
 * A model's names count as generated when more than this share of its listed tensors carry names
 * an exporter invented (`onnx::Conv_1897`, formats/onnx moduleGroup's isGeneratedName). A few such
 * names (a transposed Linear weight here and there) leave name matching the better choice: it
 * survives graph rewrites that positional keys do not (an fp16 conversion inserting Casts).
 */
export const GENERATED_NAME_SHARE = 0.1;

export interface MatchingFacts {
  tensors: ReadonlyArray<{ positionKey?: string | null }>;
  generatedNameCount: number;
}

export function namesGenerated(s: MatchingFacts): boolean {
  return s.tensors.length > 0 && s.generatedNameCount > GENERATED_NAME_SHARE * s.tensors.length;
}

/**
 * Every tensor has a positional key (graph formats registered with them). Cached per tensor list
 * (structures are immutable): registration asks it of every known structure.
 */
export function hasPositionKeys(s: MatchingFacts): boolean {
  let known = keyed.get(s.tensors);
  if (known === undefined) keyed.set(s.tensors, (known = s.tensors.length > 0 && s.tensors.every((t) => t.positionKey != null)));
  return known;
}

const keyed = new WeakMap<object, boolean>();

/**
 * AUTO: positions when either side's names were generated and both sides have positional keys
 * (safetensors have none), names otherwise. NAME and POSITION are taken as asked.
 */
export function resolveMatching(choice: MatchingChoice | null | undefined, a: MatchingFacts, b: MatchingFacts): TensorMatching {
  if (choice === "NAME" || choice === "POSITION") return choice;
  return (namesGenerated(a) || namesGenerated(b)) && hasPositionKeys(a) && hasPositionKeys(b) ? "POSITION" : "NAME";
}

/**
 * A merge's matching: AUTO is POSITION when any input's names were generated and every input has
 * positional keys, NAME otherwise — one rule for the whole merge, so every contributor (and the
 * base) is paired the same way.
 */
export function resolveMergeMatching(choice: MatchingChoice | null | undefined, models: readonly MatchingFacts[]): TensorMatching {
  if (choice === "NAME" || choice === "POSITION") return choice;
  return models.some(namesGenerated) && models.every(hasPositionKeys) ? "POSITION" : "NAME";
}
