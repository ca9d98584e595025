import { numericAwareCompare } from "./numericAwareCompare";

/**
 * An independent reference: split into symbols (a digit run becomes a BigInt placed between "/"
 * and ":", every other character its code), compare the sequences, then the raw strings.
 */
function reference(a: string, b: string): number {
  const symbols = (s: string) => (s.match(/[0-9]+|[^0-9]/g) ?? []).map((p) =>
    /^[0-9]/.test(p) ? { digit: true, value: BigInt(p), code: 0 } : { digit: false, value: 0n, code: p.charCodeAt(0) });
  const sa = symbols(a);
  const sb = symbols(b);
  for (let k = 0; k < Math.min(sa.length, sb.length); k++) {
    const x = sa[k]!;
    const y = sb[k]!;
    if (x.digit && y.digit) { if (x.value !== y.value) return x.value < y.value ? -1 : 1; continue; }
    const cx = x.digit ? 0x30 : x.code;
    const cy = y.digit ? 0x30 : y.code;
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
  if (sa.length !== sb.length) return sa.length < sb.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

describe("numericAwareCompare", () => {
  it("orders numbered modules by value", () => {
    const names = ["blocks.10", "blocks.2", "blocks.1.attn", "blocks.1", "blocks.0", "stem"];
    expect([...names].sort(numericAwareCompare)).toEqual(["blocks.0", "blocks.1", "blocks.1.attn", "blocks.2", "blocks.10", "stem"]);
    expect(["layer10.0", "layer2.1", "layer2.0"].sort(numericAwareCompare)).toEqual(["layer2.0", "layer2.1", "layer10.0"]);
  });

  it("compares digits with other characters by the digit's code", () => {
    // '.' (46) < '0'..'9' (48..57) < 'a' (97)
    expect(numericAwareCompare("a.b", "a1")).toBeLessThan(0);
    expect(numericAwareCompare("a1", "ab")).toBeLessThan(0);
    expect(numericAwareCompare("a", "a1")).toBeLessThan(0);
  });

  it("is total: equal values spelled differently still order, equal strings are 0", () => {
    expect(numericAwareCompare("x01", "x1")).toBeLessThan(0);
    expect(numericAwareCompare("x1", "x01")).toBeGreaterThan(0);
    expect(numericAwareCompare("x1", "x1")).toBe(0);
  });

  it("compares digit runs beyond 2^53 exactly", () => {
    expect(numericAwareCompare("n9007199254740993", "n9007199254740992")).toBeGreaterThan(0);
    expect(numericAwareCompare("n00012345678901234567890", "n12345678901234567891")).toBeLessThan(0);
  });

  it("agrees with an independent symbol-sequence comparison on random names", () => {
    let seed = 12345;
    const random = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
    const alphabet = "ab.0129_";
    const names: string[] = [];
    for (let k = 0; k < 400; k++) {
      let s = "";
      const n = Math.floor(random() * 7);
      for (let c = 0; c < n; c++) s += alphabet[Math.floor(random() * alphabet.length)];
      names.push(s);
    }
    const disagreements: string[] = [];
    for (const a of names) {
      for (const b of names) {
        if (Math.sign(numericAwareCompare(a, b)) !== Math.sign(reference(a, b))) disagreements.push(`${a} vs ${b}`);
      }
    }
    expect(disagreements).toEqual([]);
  });
});
