import * as path from "node:path";
import { runWatched } from "../../testing/watchedThread";
import { PYTORCH_MUTATIONS, type FuzzReport } from "./testing/fuzzPytorch";

/**
 * 4,000 mutated checkpoints (testing/fuzzPytorch.ts), parsed in a watched thread: a parse that
 * stops making progress for 20 s fails the test naming its input. Every accepted file is judged
 * by the independent judge (testing/judgePytorch.ts): accepted-but-invalid is a failure, as is
 * any error other than BAD_USER_INPUT or a parse slower than 1 s. The reader is stricter than the
 * judge in a few ways, which are the only reasons a judge-valid file may be refused: types the
 * judge does not follow (SETITEM on a non-dict, one storage under two types), a non-contiguous
 * view, a tensor reaching past the element count its storage declares (the judge measures the bytes present), and no state dict where trainers keep one.
 */
const COUNT = 4000;
const STRICTER = /on something that is not a (dict|list)|is named as \S+ and as|non-contiguous view|not where a state dict is kept|holds no tensors|is not a dict|not a tuple|not a non-negative integer|not a string|BUILD on a value|is not text|without a dtype|a call of something|differ in length|is a type tag|reads past its storage "[^"]*" of \d+ elements/;

describe("parsePytorch under fuzzing", () => {
  let report: FuzzReport;
  beforeAll(async () => {
    report = await runWatched<FuzzReport>(path.join(__dirname, "testing", "fuzzPytorch.ts"), "fuzzPytorch", { seed: 0x70c4, count: COUNT }, 20_000);
  });

  it(`parses ${COUNT} mutated files without a crash, a hang or a slow parse`, () => {
    expect(report.parses).toBe(COUNT);
    expect(report.failures).toEqual([]);
    expect(report.slowestMs).toBeLessThan(1000);
  });

  it("accepts no file that the independent judge finds invalid", () => {
    expect(report.acceptedInvalid).toEqual([]);
  });

  it("refuses judge-valid files only where it is deliberately stricter", () => {
    expect(report.validRefused.filter((r) => !STRICTER.test(r))).toEqual([]);
  });

  it("exercises every mutation, and both outcomes", () => {
    expect(Object.keys(report.byKind).sort()).toEqual([...PYTORCH_MUTATIONS].sort());
    expect(report.accepted).toBeGreaterThan(300);
    expect(report.rejected).toBeGreaterThan(2500);
    // Mutations that keep a file valid are accepted every time.
    for (const kind of ["data.pkl deflated", "zip64 rewrite"]) expect({ kind, ...report.byKind[kind] }).toMatchObject({ kind, rejected: 0 });
    // Those that break a rule are refused every time.
    for (const kind of ["forbidden global", "storage removed", "storage shrunk", "tensor entry deflated", "unsafe entry name", "duplicate entry", "declared size huge", "truncation", "pickle cut"]) {
      expect({ kind, ...report.byKind[kind] }).toMatchObject({ kind, accepted: 0 });
    }
  });
});
