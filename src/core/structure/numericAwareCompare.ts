/**
 * Orders module names the way people number layers: `blocks.2` before `blocks.10`.
 *
 * Strings are compared symbol by symbol, where a run of ASCII digits is one symbol compared by
 * numeric value and every other character compares by its UTF-16 code. A digit run meeting a
 * non-digit compares as its first digit, so the order is a proper lexicographic order over
 * symbol sequences (transitive, usable with `Array.prototype.sort`). Runs equal in value but not
 * in spelling (`01` vs `1`) fall back to plain code-unit order, so the order is total.
 */
export function numericAwareCompare(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(j);
    if (isDigit(ca) && isDigit(cb)) {
      const endA = digitRunEnd(a, i);
      const endB = digitRunEnd(b, j);
      const byValue = compareDigitRuns(a, i, endA, b, j, endB);
      if (byValue !== 0) return byValue;
      i = endA;
      j = endB;
      continue;
    }
    if (ca !== cb) return ca - cb;
    i++;
    j++;
  }
  const byLength = (a.length - i) - (b.length - j);
  if (byLength !== 0) return byLength;
  return a < b ? -1 : a > b ? 1 : 0;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function digitRunEnd(s: string, from: number): number {
  let k = from;
  while (k < s.length && isDigit(s.charCodeAt(k))) k++;
  return k;
}

/** By value without parsing, so runs longer than 2^53 still compare exactly. */
function compareDigitRuns(a: string, i: number, endA: number, b: string, j: number, endB: number): number {
  while (i < endA - 1 && a.charCodeAt(i) === 0x30) i++;
  while (j < endB - 1 && b.charCodeAt(j) === 0x30) j++;
  const lengthDiff = (endA - i) - (endB - j);
  if (lengthDiff !== 0) return lengthDiff;
  for (; i < endA; i++, j++) {
    const d = a.charCodeAt(i) - b.charCodeAt(j);
    if (d !== 0) return d;
  }
  return 0;
}
