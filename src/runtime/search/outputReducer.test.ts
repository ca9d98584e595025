import { OutputReducer } from "./outputReducer";

/*
 * The reducer thread's statistics against values written out here: softmax sums and entropy of a
 * small score map in float64, and a confusion count by hand; the output's buffer is handed over.
 */
describe("output reducer thread", () => {
  afterAll(() => OutputReducer.close());

  it("reduces scores to probability and agreement statistics on its own thread, and reports errors", async () => {
    const reducer = OutputReducer.get();
    // 2 classes × 1×3 pixels: logits (0, 0), (2, 0), (0, ln 3)
    const data = Float32Array.from([0, 2, 0, 0, 0, Math.log(3)]);
    const map = { data, channels: 2, height: 1, width: 3 };
    const stats = await reducer.reduce({ kind: "scores", map }, { kind: "probability", height: 1, width: 3, classes: 2, activation: "LOGITS" });
    expect(data.byteLength).toBe(0); // transferred, not copied
    const q = 1 / (1 + Math.exp(-2));
    const r = Math.fround(Math.log(3));
    const p3 = [1 / (1 + Math.exp(r)), Math.exp(r) / (1 + Math.exp(r))];
    const h = (ps: number[]) => -ps.reduce((a, p) => a + p * Math.log(p), 0);
    const expected = [0.5 + q + p3[0], 0.5 + (1 - q) + p3[1], Math.log(2) + h([q, 1 - q]) + h(p3), 3];
    expected.forEach((v, i) => expect(Math.abs(stats[i] - v)).toBeLessThanOrEqual(1e-12 * Math.abs(v)));

    // argmax (0, 0, 1) against reference (0, 1, 1): class 0 tp 1 ref 1 pred 2; class 1 tp 1 ref 2 pred 1
    const scores = { data: Float32Array.from([0, 2, 0, 0, 0, Math.log(3)]), channels: 2, height: 1, width: 3 };
    const agreement = await reducer.reduce({ kind: "scores", map: scores }, { kind: "agreement", height: 1, width: 3, classes: 2, reference: Uint8Array.from([0, 1, 1]), ignoreIndex: 255 });
    expect([...agreement]).toEqual([1, 1, 1, 2, 2, 1]);

    await expect(reducer.reduce({ kind: "ids", map: { data: new Uint8Array(3), height: 1, width: 3 } } as never, { kind: "probability", height: 1, width: 3, classes: 2, activation: "LOGITS" })).rejects.toThrow(/need scores/);
  });
});
