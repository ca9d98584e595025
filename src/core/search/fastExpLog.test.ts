import { fastExp, fastLog } from "./fastExpLog";
import { prng } from "../testing/prng";

/** |a − b| / |b| (0 when both are 0). */
const rel = (a: number, b: number) => (a === b ? 0 : Math.abs(a - b) / Math.abs(b));

describe("fastExp and fastLog against Math.exp and Math.log", () => {
  const random = prng(20261207);

  it("exp within 1e-15 relative over its whole fast range and at the table's seams", () => {
    let worst = 0;
    const check = (x: number) => {
      worst = Math.max(worst, rel(fastExp(x), Math.exp(x)));
    };
    for (let i = 0; i < 50_000; i++) check(-707 + random() * 1416); // uniform over [−707, 709]
    for (let i = 0; i < 50_000; i++) check(-40 * random()); // where softmax's x − max lives
    for (let i = 0; i < 30_000; i++) check((random() - 0.5) * 1e-6); // near 0
    // Multiples of ln2/64 and their neighbours: where the range reduction switches table entries.
    for (let n = -65000; n <= 65000; n += 7) for (const d of [-1e-12, 0, 1e-12]) check((n * Math.LN2) / 64 + d);
    expect(worst).toBeLessThan(1e-15);
    expect(fastExp(0)).toBe(1);
  });

  it("exp defers to Math outside its range: underflow, subnormal results, overflow, ±∞, NaN", () => {
    for (const x of [-707.5, -720, -745, -745.2, -800, -Infinity, 709.5, 709.78, 710, 1000, Infinity, NaN]) {
      expect(Object.is(fastExp(x), Math.exp(x))).toBe(true);
    }
  });

  it("log within 1e-15 relative over many binades, around 1 and at the table's seams", () => {
    let worst = 0;
    const check = (x: number) => {
      worst = Math.max(worst, rel(fastLog(x), Math.log(x)));
    };
    for (let i = 0; i < 50_000; i++) check(Math.pow(2, -1020 + random() * 2040)); // log-uniform over the normal range
    for (let i = 0; i < 50_000; i++) check(1 + 18 * random()); // a softmax denominator, 1 ≤ Z ≤ C
    for (let i = 0; i < 30_000; i++) check(1 + (random() - 0.5) * 1e-3); // near 1, log x ≈ x − 1
    for (let i = 0; i < 30_000; i++) check(random()); // probabilities
    // Where m switches between table entries (c ± 1/512) and between binades (m = 1.5 halved).
    for (let k = -8; k <= 8; k++) {
      for (let i = -64; i <= 128; i++) {
        const seam = (1 + (i + 0.5) / 256) * Math.pow(2, k);
        for (const f of [1 - 2e-16, 1, 1 + 2e-16]) check(seam * f);
      }
      for (const f of [1 - 2e-16, 1, 1 + 2e-16]) check(1.5 * Math.pow(2, k) * f);
    }
    expect(worst).toBeLessThan(1e-15);
    expect(fastLog(1)).toBe(0);
    expect(fastLog(2)).toBe(Math.LN2);
  });

  it("log defers to Math outside its range: subnormals, 0, negatives, ∞, NaN", () => {
    for (const x of [5e-324, 1e-310, 0, -0, -1, -Infinity, Infinity, NaN]) {
      expect(Object.is(fastLog(x), Math.log(x))).toBe(true);
    }
  });
});
