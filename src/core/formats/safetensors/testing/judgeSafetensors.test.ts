import * as fs from "node:fs";
import * as path from "node:path";
import { judgeSafetensors } from "./judgeSafetensors";

/**
 * The judge against files written by hand, byte by byte, from the specification: it must find
 * the valid ones valid (reading their tensors where they are) and every kind of invalid one
 * invalid, or the fuzz tests that rely on it prove nothing.
 */
function file(header: string, data: number[] | Uint8Array, length = Buffer.byteLength(header)): Uint8Array {
  const out = Buffer.alloc(8 + Buffer.byteLength(header) + data.length);
  out.writeBigUInt64LE(BigInt(length), 0);
  out.write(header, 8, "utf8");
  Buffer.from(data).copy(out, 8 + Buffer.byteLength(header));
  return out;
}
const two = '{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"F16","shape":[1],"data_offsets":[2,4]}}';

describe("judgeSafetensors", () => {
  it("finds valid files valid and reads their tensors", () => {
    expect(judgeSafetensors(file(two, [1, 2, 3, 4]))).toEqual({
      valid: true,
      tensors: [
        { name: "a", dtype: "U8", shape: [2], offset: 8 + two.length, length: 2 },
        { name: "b", dtype: "F16", shape: [1], offset: 8 + two.length + 2, length: 2 },
      ],
    });
    expect(judgeSafetensors(file("{}", []))).toEqual({ valid: true, tensors: [] });
    expect(judgeSafetensors(file('{"__metadata__":{"k":"v"},"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]}}    ', []))).toMatchObject({ valid: true });
    // Keys in any order, unknown fields, an empty tensor at the running end.
    expect(judgeSafetensors(file('{"b":{"x":[1.5],"dtype":"U8","shape":[],"data_offsets":[1,2]},"z":{"dtype":"U8","shape":[0],"data_offsets":[1,1]},"a":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}}', [0, 1]))).toMatchObject({ valid: true });
    const official = fs.readFileSync(path.join(__dirname, "fixtures", "official_sorted.safetensors"));
    expect(judgeSafetensors(official)).toMatchObject({ valid: true });
  });

  it.each([
    ["a byte after the last tensor", file(two, [1, 2, 3, 4, 5])],
    ["a gap", file('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}', [1, 2, 3])],
    ["a hole at the start", file('{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', [1, 2])],
    ["an overlap", file('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', [1, 2])],
    ["an empty tensor inside another", file('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"e":{"dtype":"U8","shape":[0],"data_offsets":[1,1]}}', [1, 2])],
    ["a size that disagrees with the shape", file('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,2]}}', [1, 2])],
    ["a duplicate key", file('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', [1])],
    ["a duplicate key inside an entry", file('{"a":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}', [1])],
    ["a non-string metadata value", file('{"__metadata__":{"k":1}}', [])],
    ["metadata that is not an object", file('{"__metadata__":"k"}', [])],
    ["a header starting with a space", file(' {}', [])],
    ["newline padding", file("{}\n", [])],
    ["a header length above 100 MB", file("{}", [], 100_000_001)],
    ["a header length past the end", file("{}", [], 3)],
    ["an offset written 2.0", file('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2.0]}}', [1, 2])],
    ["a dim written 2e0", file('{"a":{"dtype":"U8","shape":[2e0],"data_offsets":[0,2]}}', [1, 2])],
    ["an offset written -0", file('{"a":{"dtype":"U8","shape":[0],"data_offsets":[-0,0]}}', [])],
    ["an unknown dtype", file('{"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}}', [1])],
    ["an unpaired surrogate", file('{"\\ud800":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}', [])],
    ["trailing text", file("{} x", [])],
    ["a short file", new Uint8Array(7)],
  ])("finds %s invalid", (_, bytes) => {
    expect(judgeSafetensors(bytes).valid).toBe(false);
  });
});
