import { DomainError } from "../../errors";
import { bufferSource } from "../byteSource";
import { ProtoReader } from "./protoReader";

function reader(bytes: number[]): ProtoReader {
  const source = bufferSource(Uint8Array.from(bytes));
  return new ProtoReader(source, 0, source.size, "test message");
}

function expectCorrupt(bytes: number[], offset: number, fragment: string): void {
  const r = reader(bytes);
  let error: unknown;
  try {
    while (r.next());
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).code).toBe("BAD_USER_INPUT");
  expect((error as DomainError).message).toContain(`at byte ${offset}`);
  expect((error as DomainError).message).toContain(fragment);
}

describe("ProtoReader", () => {
  it("reads the protobuf guide's example: field 1 = 150 is 08 96 01", () => {
    // 150 = 0b1001_0110 → low 7 bits 0x16 | 0x80 = 0x96, then 150 >> 7 = 1.
    const f = reader([0x08, 0x96, 0x01]).next()!;
    expect(f).toMatchObject({ fieldNumber: 1, wireType: 0, tagOffset: 0, offset: 1, length: 2, end: 3, value: 150 });
  });

  it("locates length-delimited payloads by absolute offset without reading them", () => {
    // field 2 (tag 2<<3|2 = 0x12), length 3, "abc"; then field 5 fixed32 (0x2d) and fixed64 field 1 (0x09).
    const r = reader([0x12, 0x03, 0x61, 0x62, 0x63, 0x2d, 1, 0, 0, 0, 0x09, 1, 2, 3, 4, 5, 6, 7, 8]);
    const s = r.next()!;
    expect(s).toMatchObject({ fieldNumber: 2, wireType: 2, tagOffset: 0, prefixOffset: 1, offset: 2, length: 3, end: 5 });
    expect(r.string(s)).toBe("abc");
    expect(r.next()).toMatchObject({ fieldNumber: 5, wireType: 5, offset: 6, length: 4, end: 10 });
    expect(r.next()).toMatchObject({ fieldNumber: 1, wireType: 1, offset: 11, length: 8, end: 19 });
    expect(r.next()).toBeUndefined();
  });

  it("reads 64-bit varints: -1 as ten bytes, exactly as bigint", () => {
    // int64 -1 is 2^64 - 1: nine 0xff bytes and a final 0x01.
    const bytes = [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    const f = reader(bytes).next()!;
    expect(f.value).toBe(-1);
    const r = reader(bytes.slice(1));
    expect(r.readVarintBigInt()).toBe(2n ** 64n - 1n);
    // 2^35 + 5 = 0x8_0000_0005 spans the 32-bit halves: bytes 85 80 80 80 80 01
    expect(reader([0x08, 0x85, 0x80, 0x80, 0x80, 0x80, 0x01]).next()!.value).toBe(2 ** 35 + 5);
  });

  it("rejects malformed input with the offset of the fault", () => {
    expectCorrupt([0x08], 1, "varint runs past the end");
    expectCorrupt([0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02], 1, "exceeds 64 bits");
    expectCorrupt([0x12, 0x05, 0x61], 0, "declares 5 bytes");
    expectCorrupt([0x2d, 1, 2], 0, "needs 4 bytes");
    expectCorrupt([0x0b], 0, "groups");
    expectCorrupt([0x0c], 0, "groups");
    expectCorrupt([0x0e], 0, "invalid wire type 6");
    expectCorrupt([0x00], 0, "invalid field number 0");
    // a length of -1 (ten-byte varint) must not pass the bounds check
    expectCorrupt([0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], 0, "declares -1 bytes");
  });

  it("keeps nested readers inside their parent's bounds", () => {
    // outer field 1 (0x0a) of 2 bytes containing a LEN field claiming 4 bytes, then padding
    const source = bufferSource(Uint8Array.from([0x0a, 0x02, 0x12, 0x04, 0, 0, 0, 0]));
    const outer = new ProtoReader(source, 0, 4, "outer");
    const f = outer.next()!;
    const inner = outer.sub(f, "inner");
    expect(() => inner.next()).toThrow(/inner is truncated or corrupt at byte 2/);
  });

  it("refuses a message range outside the source", () => {
    expect(() => new ProtoReader(bufferSource(new Uint8Array(4)), 2, 9, "m")).toThrow(DomainError);
  });
});
