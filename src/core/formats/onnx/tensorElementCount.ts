import { badInput } from "../../errors";

/**
 * Above 2^40 elements (4 TiB of fp32) a shape is corrupt, not a model: rejecting it early keeps
 * every later size computation exact in float64.
 */
export const MAX_ELEMENTS = 2 ** 40;

/** No operator handles more; a larger rank means a corrupt dims field. */
const MAX_RANK = 64;

/** Product of dims after checking each is a sane non-negative integer; names the tensor on error. */
export function tensorElementCount(dims: readonly number[], title: string): number {
  if (dims.length > MAX_RANK) throw badInput(`${title} has rank ${dims.length}; more than ${MAX_RANK} dimensions is not a real tensor`);
  let elements = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw badInput(`${title} has invalid dimension ${d} in shape [${dims.join(", ")}]`);
    if (d > MAX_ELEMENTS) throw badInput(`${title} has absurd dimension ${d} in shape [${dims.join(", ")}]`);
    elements *= d;
    if (elements > MAX_ELEMENTS) throw badInput(`${title} has more than 2^40 elements (shape [${dims.join(", ")}])`);
  }
  return elements;
}
