import * as path from "node:path";
import { runWatched } from "../../testing/watchedThread";
import { ONNX_MUTATIONS } from "./testing/fuzzOnnx";
import type { FuzzReport } from "../../testing/fuzzReport";

/**
 * 6 × 900 mutated models (testing/fuzzOnnx.ts), parsed in a watched thread: a parse that stops
 * making progress for 20 s fails the test naming its input. Every accepted model is judged by the
 * independent judge (testing/judgeOnnx.ts): accepted-but-invalid is a failure, as is any error
 * other than BAD_USER_INPUT, a parse slower than 1 s, a reparse that differs, a tensor that
 * cannot be read back, or a refused model that a valid-preserving edit made (shuffled nodes,
 * empty optional inputs, well-formed If / Loop bodies using outer-scope names).
 */
const PER_SEED = 900;

describe("parseOnnx under fuzzing", () => {
  let report: FuzzReport;
  beforeAll(async () => {
    report = await runWatched<FuzzReport>(path.join(__dirname, "testing", "fuzzOnnx.ts"), "fuzzOnnx", { seed: 20240915, perSeed: PER_SEED }, 20_000);
  });

  it(`parses ${6 * PER_SEED} mutated models without a crash, a hang or a slow parse`, () => {
    expect(report.parses).toBe(6 * PER_SEED);
    expect(report.failures).toEqual([]);
    expect(report.slowestMs).toBeLessThan(1000);
  });

  it("accepts no model that the independent judge finds invalid", () => {
    expect(report.acceptedInvalid).toEqual([]);
  });

  it("exercises every mutation, and both outcomes", () => {
    expect(Object.keys(report.byKind).sort()).toEqual([...ONNX_MUTATIONS].sort());
    expect(report.accepted).toBeGreaterThan(1000);
    expect(report.rejected).toBeGreaterThan(1500);
    for (const kind of ["subgraph, bad reference", "subgraph value leaked"]) expect({ kind, ...report.byKind[kind] }).toMatchObject({ kind, accepted: 0 });
  });
});
