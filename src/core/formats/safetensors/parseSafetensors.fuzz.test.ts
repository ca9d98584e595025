import * as path from "node:path";
import { runWatched } from "../../testing/watchedThread";
import { SAFETENSORS_MUTATIONS, type FuzzReport } from "./testing/fuzzSafetensors";

/**
 * 6,000 mutated files (testing/fuzzSafetensors.ts), parsed in a watched thread: a parse that
 * stops making progress for 20 s fails the test naming its input. Every accepted file is judged
 * by the independent judge (testing/judgeSafetensors.ts): accepted-but-invalid is a failure, as
 * is any error other than BAD_USER_INPUT, a parse slower than 1 s, or a file the judge finds
 * valid that the parser refuses for anything but a dtype it cannot size (or a dim no JavaScript
 * number holds exactly, in an empty tensor).
 */
const COUNT = 6000;

describe("parseSafetensors under fuzzing", () => {
  let report: FuzzReport;
  beforeAll(async () => {
    report = await runWatched<FuzzReport>(path.join(__dirname, "testing", "fuzzSafetensors.ts"), "fuzzSafetensors", { seed: 0x5afe7e45, count: COUNT }, 20_000);
  });

  it(`parses ${COUNT} mutated files without a crash, a hang or a slow parse`, () => {
    expect(report.parses).toBe(COUNT);
    expect(report.failures).toEqual([]);
    expect(report.slowestMs).toBeLessThan(1000);
  });

  it("accepts no file that the independent judge finds invalid", () => {
    expect(report.acceptedInvalid).toEqual([]);
  });

  it("refuses valid files only for dtypes it cannot size and dims beyond 2^53", () => {
    expect(report.validRefused.filter((r) => !/unsupported safetensors dtype|has shape \[[^\]]*\d{16}/.test(r))).toEqual([]);
  });

  it("exercises every mutation, and both outcomes", () => {
    expect(Object.keys(report.byKind).sort()).toEqual([...SAFETENSORS_MUTATIONS].sort());
    expect(report.accepted).toBeGreaterThan(500);
    expect(report.rejected).toBeGreaterThan(2500);
    // Mutations that keep a file valid are accepted every time.
    for (const kind of ["junk over tensor bytes", "keys reordered, fields added"]) expect({ kind, ...report.byKind[kind] }).toMatchObject({ kind, rejected: 0 });
    // Those that break the coverage rule are refused every time.
    for (const kind of ["bytes appended", "gap", "overlap", "duplicate key", "header length over 100 MB"]) expect({ kind, ...report.byKind[kind] }).toMatchObject({ kind, accepted: 0 });
  });
});
