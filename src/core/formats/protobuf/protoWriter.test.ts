import { encodeTag, encodeVarint, ProtoWriter, varintSize } from "./protoWriter";

describe("protoWriter", () => {
  it("encodes varints as in the protobuf guide", () => {
    expect(Array.from(encodeVarint(1))).toEqual([0x01]);
    // 300 = 0b10_0101100 → 0xac (0x2c | 0x80), 0x02
    expect(Array.from(encodeVarint(300))).toEqual([0xac, 0x02]);
    // -1 as int64: ten bytes, nine 0xff and 0x01
    expect(Array.from(encodeVarint(-1))).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect(Array.from(encodeVarint(2n ** 63n))).toEqual([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
  });

  it("sizes varints at the 7-bit boundaries", () => {
    // 127 = 2^7-1 fits one byte, 128 needs two, 2^14 needs three
    expect([0, 127, 128, 16383, 16384, 2 ** 35].map((v) => varintSize(v))).toEqual([1, 1, 2, 2, 3, 6]);
    expect(varintSize(-1n)).toBe(10);
  });

  it("writes tags and nested messages", () => {
    expect(Array.from(encodeTag(7, 2))).toEqual([0x3a]); // 7<<3 | 2 = 58
    const bytes = new ProtoWriter()
      .varintField(1, 150)
      .messageField(2, (w) => w.stringField(1, "ab"))
      .tag(3, 5)
      .float32(1)
      .finish();
    // 08 96 01 | 12 04 (0a 02 61 62) | 1d 00 00 80 3f  (1.0f = 0x3f800000 little-endian)
    expect(Array.from(bytes)).toEqual([0x08, 0x96, 0x01, 0x12, 0x04, 0x0a, 0x02, 0x61, 0x62, 0x1d, 0x00, 0x00, 0x80, 0x3f]);
  });
});
