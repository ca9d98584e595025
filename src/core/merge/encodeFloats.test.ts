import goldens from "./fixtures/goldens.json";
import { decodeToFloat32, decodeToFloat64 } from "./decodeFloats";
import { anyNonFinite32, countNonFinite, encodeFromFloat32, encodeFromFloats, encodeHalfInto } from "./encodeFloats";
import { f32BitsToBf16Bits, f32BitsToF16Bits } from "./halfPrecision";

function u16(bytes: Uint8Array): number[] {
  return Array.from(new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2));
}

function f32FromBits(bits: number[]): Float32Array {
  return new Float32Array(Uint32Array.from(bits).buffer);
}

describe("encodeFromFloat32 (round to nearest even)", () => {
  const input = f32FromBits(goldens.codec.inputBits);

  it("matches numpy's float32 → float16 conversion on specials, ties, subnormals, overflow and random values", () => {
    expect(u16(encodeFromFloat32(input, "F16"))).toEqual(goldens.codec.f16Bits);
  });

  it("matches bf16 rounding computed by nearest-neighbour comparison in float64 (makeGoldens.py)", () => {
    expect(u16(encodeFromFloat32(input, "BF16"))).toEqual(goldens.codec.bf16Bits);
  });

  it("rounds fp16 by hand-checked cases", () => {
    // 1 + 2^-11 is halfway between 1 (0x3c00) and 1 + 2^-10 (0x3c01): tie to even → 0x3c00.
    // 1 + 3·2^-11 is halfway between 0x3c01 and 0x3c02: tie to even → 0x3c02.
    // 65519 < 65520 (= 65504 + half an ulp of 32) → 65504 = 0x7bff; 65520 is the tie, even is Inf.
    // 2^-25 is half the smallest subnormal 2^-24: tie to even → 0; 3·2^-26 = 0.75·2^-24 → 0x0001.
    const values = Float32Array.from([1 + 2 ** -11, 1 + 3 * 2 ** -11, 65519, 65520, 2 ** -25, 3 * 2 ** -26, -0]);
    expect(u16(encodeFromFloat32(values, "F16"))).toEqual([0x3c00, 0x3c02, 0x7bff, 0x7c00, 0x0000, 0x0001, 0x8000]);
  });

  it("keeps NaN a NaN in both half formats", () => {
    const nan = Float32Array.from([NaN, -NaN]);
    for (const h of u16(encodeFromFloat32(nan, "F16"))) expect((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0).toBe(true);
    for (const h of u16(encodeFromFloat32(nan, "BF16"))) expect((h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0).toBe(true);
  });

  it("counts the non-finite results a merge must refuse", () => {
    expect(countNonFinite(encodeFromFloat32(Float32Array.from([65504, 65520, -1e6, 1]), "F16"), "F16")).toBe(2);
    expect(countNonFinite(encodeFromFloats(Float64Array.from([1e300, 1]), "F32"), "F32")).toBe(1);
  });
});

describe("decodeToFloat32", () => {
  it("decodes every fp16 value exactly (round trip of all 63488 finite codes)", () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const finite = all.filter((h) => (h & 0x7c00) !== 0x7c00);
    const bytes = new Uint8Array(finite.buffer);
    const values = decodeToFloat32(bytes, "F16");
    // exactness: re-encoding gives the same code for every finite value (−0 included)
    expect(u16(encodeFromFloat32(values, "F16"))).toEqual(Array.from(finite));
    // 0x3555 = 0 01101 0101010101: (1 + 341/1024)·2^(13−15) = 1365/4096
    expect(decodeToFloat32(new Uint8Array(Uint16Array.from([0x3555]).buffer), "F16")[0]).toBe(1365 / 4096);
    // 0x0001 = the smallest subnormal 2^-24
    expect(decodeToFloat32(new Uint8Array(Uint16Array.from([0x0001]).buffer), "F16")[0]).toBe(2 ** -24);
  });

  it("decodes bf16 as the upper half of a float32", () => {
    // 0x3fc0 → float32 bits 0x3fc00000 = 1.5; 0xc049 → 0xc0490000 = −3.140625
    const values = decodeToFloat32(new Uint8Array(Uint16Array.from([0x3fc0, 0xc049, 0x0001]).buffer), "BF16");
    expect(Array.from(values)).toEqual([1.5, -3.140625, 2 ** -133]);
  });

  it("reads unaligned F32 and F64 bytes", () => {
    const holder = new Uint8Array(4 * 3 + 1);
    holder.set(new Uint8Array(Float32Array.from([1.5, -2, 0.1]).buffer), 1);
    expect(Array.from(decodeToFloat32(holder.subarray(1), "F32"))).toEqual([1.5, -2, Math.fround(0.1)]);
    const holder64 = new Uint8Array(8 * 2 + 3);
    holder64.set(new Uint8Array(Float64Array.from([0.1, -7]).buffer), 3);
    expect(Array.from(decodeToFloat64(holder64.subarray(3), "F64"))).toEqual([0.1, -7]);
    expect(Array.from(decodeToFloat32(holder64.subarray(3), "F64"))).toEqual([Math.fround(0.1), -7]);
  });

  it("rejects non-floating dtypes and ragged byte counts", () => {
    expect(() => decodeToFloat32(new Uint8Array(8), "I64")).toThrow(/only F64, F32, F16 and BF16/);
    expect(() => decodeToFloat32(new Uint8Array(3), "F16")).toThrow(/not a whole number of F16 elements/);
  });
});

describe("encodeHalfInto (the merge's fused encoder)", () => {
  // Reference: the scalar codecs, themselves checked against numpy above, element by element.
  const patterns = (): Float32Array => {
    const bits = new Uint32Array(200_000);
    let x = 12345;
    for (let i = 0; i < bits.length; i++) {
      x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
      // every exponent, and low mantissa bits forced to the rounding ties every 8th value
      bits[i] = i % 8 === 0 ? (x & 0xffffe000) | 0x1000 : i % 8 === 1 ? (x & 0xffff0000) | 0x8000 : x;
    }
    return new Float32Array(bits.buffer);
  };

  it.each(["F16", "BF16"] as const)("gives the scalar codec's %s bits on 200,000 patterns, with an exact non-finite flag", (dtype) => {
    const values = patterns();
    const bits = new Uint32Array(values.buffer);
    const out = new Uint16Array(values.length);
    const flagged = encodeHalfInto(values, dtype, out);
    let nonFinite = false;
    for (let i = 0; i < values.length; i++) {
      const expected = dtype === "F16" ? f32BitsToF16Bits(bits[i], values[i]) : f32BitsToBf16Bits(bits[i]);
      if (out[i] !== expected) throw new Error(`bits 0x${bits[i].toString(16)}: got 0x${out[i].toString(16)}, expected 0x${expected.toString(16)}`);
      nonFinite ||= (expected & (dtype === "F16" ? 0x7c00 : 0x7f80)) === (dtype === "F16" ? 0x7c00 : 0x7f80);
    }
    expect(nonFinite).toBe(true);
    expect(flagged).toBe(true);
    // finite values that stay finite: no flag
    const small = Float32Array.from([0, -0, 1, -65504, 2 ** -24, 3e-8]);
    expect(encodeHalfInto(small, dtype, new Uint16Array(small.length))).toBe(false);
    expect(encodeHalfInto(Float32Array.from([1, 70000]), "F16", new Uint16Array(2))).toBe(true);
  });

  it("anyNonFinite32 finds one NaN or Inf among finite values", () => {
    const values = new Float32Array(1001).fill(3.5);
    expect(anyNonFinite32(values)).toBe(false);
    for (const bad of [NaN, Infinity, -Infinity]) {
      values[777] = bad;
      expect(anyNonFinite32(values)).toBe(true);
    }
    expect(anyNonFinite32(Float32Array.from([3.4028234663852886e38, -3.4028234663852886e38, 1e-45]))).toBe(false);
  });
});
