import goldens from "./fixtures/goldens.json";
import { dropStreamKey, dropStreamWord, dropThreshold, fnv1a32 } from "./dropMask";

describe("DARE drop generator", () => {
  it("matches the separate Python implementation (makeGoldens.py) for keys and words", () => {
    for (const c of goldens.drops.cases) {
      expect(fnv1a32(c.name)).toBe(c.fnv);
      expect(dropStreamKey(c.seed, c.name, c.model)).toBe(c.key);
      expect(c.indexes.map((i) => dropStreamWord(c.key, i))).toEqual(c.words);
    }
  });

  it("FNV-1a of the empty string and of 'a' are the published constants", () => {
    expect(fnv1a32("")).toBe(0x811c9dc5);
    expect(fnv1a32("a")).toBe(0xe40c292c);
  });

  it("drops close to a fraction p of elements, independently per model", () => {
    const n = 200_000;
    const p = 0.9;
    const threshold = dropThreshold(p);
    const keyA = dropStreamKey(0, "w", 0);
    const keyB = dropStreamKey(0, "w", 1);
    let droppedA = 0;
    let both = 0;
    for (let i = 0; i < n; i++) {
      const a = dropStreamWord(keyA, i) < threshold;
      const b = dropStreamWord(keyB, i) < threshold;
      if (a) droppedA++;
      if (a && b) both++;
    }
    // binomial sd = sqrt(n p (1 − p)) ≈ 134; allow 5 sd
    expect(Math.abs(droppedA - n * p)).toBeLessThan(5 * Math.sqrt(n * p * (1 - p)));
    // independent streams: P(both dropped) = p² = 0.81
    expect(Math.abs(both / n - p * p)).toBeLessThan(0.005);
  });

  it("drops nothing at p = 0", () => {
    expect(dropThreshold(0)).toBe(0);
  });
});
