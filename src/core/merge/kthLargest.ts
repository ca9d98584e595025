import { invariant } from "../errors";
import { FloatArray } from "./floatArrays";

/**
 * The k-th largest value (k = 1 is the maximum) by quickselect, O(n) on average; `scratch` is
 * reordered. TIES needs only this threshold, not a sort of the whole task vector.
 */
export function kthLargest(scratch: FloatArray, k: number): number {
  const n = scratch.length;
  invariant(k >= 1 && k <= n, `k = ${k} out of 1..${n}`);
  const target = n - k; // index in ascending order
  let lo = 0;
  let hi = n - 1;
  while (hi > lo) {
    const mid = lo + ((hi - lo) >>> 1);
    const a = scratch[lo], b = scratch[mid], c = scratch[hi];
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (scratch[i] < pivot) i++;
      while (scratch[j] > pivot) j--;
      if (i <= j) {
        const t = scratch[i];
        scratch[i] = scratch[j];
        scratch[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return scratch[target];
  }
  return scratch[target];
}
