import { createHash } from "crypto";

/** What one output tensor is made of: (model id, effective weight) pairs, in any order. */
export interface TensorMix {
  name: string;
  parts: ReadonlyArray<{ modelId: string; weight: number }>;
}

/**
 * Two candidates are one when their anchors have the same structure hash and every output tensor
 * gets the same set of (model, effective weight) pairs — so contributor order, or which of two
 * same-architecture models is the anchor under UNIFORM, never makes a new candidate. A pair of
 * weight 0 contributes nothing and is left out (a merge that gives the contributors no weight is
 * its anchor). Weights are compared to 12 significant digits: equal recipes computed in another
 * order differ in the last bits only. `method` names what is done with the weights beyond a
 * weighted sum (TIES, DARE and task arithmetic with their parameters and base), "" for a weighted sum.
 */
export function candidateKey(anchorStructureHash: string, method: string, tensors: readonly TensorMix[]): string {
  const hash = createHash("sha256");
  hash.update(`${anchorStructureHash}\n${method}\n`);
  for (const t of [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const parts = t.parts
      .filter((p) => p.weight !== 0)
      .map((p) => `${p.modelId}=${Number(p.weight.toPrecision(12))}`)
      .sort();
    hash.update(`${t.name}\t${parts.join(",")}\n`);
  }
  return hash.digest("hex");
}

/**
 * One merge plan's tensor mixes with the models as positions (0 the anchor, then the
 * contributors, in the plan's order), prepared once for every candidate that shares the plan:
 * tensors in key order, zero-weight parts dropped, weights already written as candidateKey
 * writes them. Planning a search keys thousands of candidates over hundreds of tensors each.
 */
export interface PreparedMixes {
  readonly tensors: ReadonlyArray<{ readonly name: string; readonly parts: ReadonlyArray<{ readonly index: number; readonly weight: string }> }>;
}

export function prepareMixes(tensors: ReadonlyArray<{ name: string; parts: ReadonlyArray<{ index: number; weight: number }> }>): PreparedMixes {
  return {
    tensors: [...tensors]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((t) => ({ name: t.name, parts: t.parts.filter((p) => p.weight !== 0).map((p) => ({ index: p.index, weight: String(Number(p.weight.toPrecision(12))) })) })),
  };
}

/** candidateKey of `mixes` with position i played by `modelIds[i]`: the same key, byte for byte. */
export function preparedCandidateKey(anchorStructureHash: string, method: string, mixes: PreparedMixes, modelIds: readonly string[]): string {
  const lines: string[] = [`${anchorStructureHash}\n${method}\n`];
  for (const t of mixes.tensors) {
    const parts = t.parts.map((p) => `${modelIds[p.index]}=${p.weight}`);
    if (parts.length > 1) parts.sort();
    lines.push(`${t.name}\t${parts.join(",")}\n`);
  }
  // One update of the whole text hashes the same bytes as candidateKey's update per line.
  return createHash("sha256").update(lines.join("")).digest("hex");
}
