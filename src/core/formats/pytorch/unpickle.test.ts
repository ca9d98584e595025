import * as fs from "node:fs";
import * as path from "node:path";
import { bufferSource } from "../byteSource";
import { pickleToJson } from "./pickleToJson";
import { unpickle, PICKLE_LIMITS, type PickleLimits } from "./unpickle";
import type { PickleValue } from "./pickleValues";

/**
 * The restricted unpickler on pickles Python wrote (fixtures/make_fixtures.py: protocol 2 and 5
 * with every plain type, the value as Python describes it in expected.json) and on hand-built
 * opcode streams for the bounds and the refused opcodes.
 */
const dir = path.join(__dirname, "fixtures");
const expected = JSON.parse(fs.readFileSync(path.join(dir, "expected.json"), "utf8")) as Record<string, Record<string, unknown>>;
const noStorage = (): PickleValue => {
  throw new Error("no persistent ids here");
};
const read = (bytes: Uint8Array, limits?: Partial<PickleLimits>) => unpickle(bufferSource(bytes), 0, bytes.length, { persistentLoad: noStorage, limits });
const ops = (...parts: Array<number[] | string>) => new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : Buffer.from(p)))));

describe("unpickle", () => {
  it.each(["plain_p5.pkl", "plain_p2.pkl"])("rebuilds %s as Python describes it", (file) => {
    const bytes = new Uint8Array(fs.readFileSync(path.join(dir, file)));
    const { value, end } = read(bytes);
    expect(end).toBe(bytes.length);
    const want = { ...expected.plain };
    if (file === "plain_p2.pkl") delete want.bytearray;
    expect(pickleToJson(value)).toEqual(want);
  });

  it("stops at STOP and reports where (the legacy format's pickles follow each other)", () => {
    const bytes = ops([0x80, 2, 0x4b, 7, 0x2e, 0x80, 2, 0x4e, 0x2e]);
    const first = read(bytes);
    expect(first).toEqual({ value: 7, end: 5 });
    expect(unpickle(bufferSource(bytes), first.end, bytes.length, { persistentLoad: noStorage }).value).toBeNull();
  });

  it("refuses globals outside the list by name, before calling anything", () => {
    expect(() => read(ops([0x80, 2, 0x63], "os\nsystem\n", [0x29, 0x52, 0x2e]))).toThrow(/names the global os\.system, which is refused/);
    expect(() => read(ops([0x80, 4, 0x8c, 5], "posix", [0x8c, 6], "system", [0x93, 0x2e]))).toThrow(/global posix\.system/);
    expect(() => read(ops([0x80, 2, 0x63], "__builtin__\neval\n", [0x2e]))).toThrow(/global builtins\.eval/);
    expect(() => read(ops([0x80, 2, 0x63], "torch\nTensor\n", [0x29, 0x52, 0x2e]))).toThrow(/torch\.Tensor, which is a type tag/);
  });

  it("refuses the opcodes that reach outside the data", () => {
    expect(() => read(ops([0x80, 2, 0x82, 1, 0x2e]))).toThrow(/EXT opcodes/);
    expect(() => read(ops([0x80, 5, 0x97, 0x2e]))).toThrow(/NEXT_BUFFER/);
    expect(() => read(ops([0x80, 2, 0x50], "x\n", [0x2e]))).toThrow(/PERSID/);
    expect(() => read(ops([0x80, 6, 0x2e]))).toThrow(/protocol 6/);
  });

  it("refuses malformed streams: no STOP, stack left over, underflow, unset memo", () => {
    expect(() => read(ops([0x80, 2, 0x4e]))).toThrow(/truncated/);
    expect(() => read(ops([0x80, 2, 0x4e, 0x4e, 0x2e]))).toThrow(/STOP with 2 values/);
    expect(() => read(ops([0x80, 2, 0x28, 0x4e, 0x2e]))).toThrow(/MARK still open/);
    expect(() => read(ops([0x80, 2, 0x52, 0x2e]))).toThrow(/stack is empty/);
    expect(() => read(ops([0x80, 2, 0x68, 9, 0x2e]))).toThrow(/memo entry 9 was never stored/);
  });

  it("bounds nesting at 1,000, strings at 64 MiB, the memo and the values pushed", () => {
    const marks = (n: number) => ops([0x80, 2], Array(n).fill(0x28), Array(n).fill(0x6c).slice(1), [0x6c, 0x2e]);
    expect(() => read(marks(PICKLE_LIMITS.depth))).not.toThrow();
    expect(() => read(marks(PICKLE_LIMITS.depth + 1))).toThrow(/nesting deeper than 1000/);
    // The length is checked before anything is read: a 64 MiB + 1 declaration in a 10-byte file.
    const long = ops([0x80, 2, 0x58], [...Buffer.from(Uint32Array.of(PICKLE_LIMITS.stringBytes + 1).buffer)], [0x2e]);
    expect(() => read(long)).toThrow(/over the 67108864-byte limit/);
    const puts = ops([0x80, 4, 0x4e], Array(5).fill(0x94), [0x2e]);
    expect(() => read(puts, { memo: 4 })).toThrow(/more than 4 memo entries/);
    const pushes = ops([0x80, 2], Array(6).fill(0x4e), Array(5).fill(0x30), [0x2e]);
    expect(() => read(pushes, { objects: 5 })).toThrow(/more than 5 values/);
    expect(read(pushes, { objects: 6 }).value).toBeNull();
  });
});
