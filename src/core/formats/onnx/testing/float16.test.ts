import { bfloat16BitsToFloat, float32ToBfloat16Bits, float32ToHalfBits, halfBitsToFloat } from "./float16";

describe("test-writer float16", () => {
  it("matches IEEE half encodings worked out by hand", () => {
    // 1.0 = exp 15 → 0x3c00; -2.0 = sign | exp 16 → 0xc000; 65504 = max normal 0x7bff
    expect(float32ToHalfBits(1)).toBe(0x3c00);
    expect(float32ToHalfBits(-2)).toBe(0xc000);
    expect(float32ToHalfBits(65504)).toBe(0x7bff);
    // 65520 is halfway between 65504 and 65536 (Inf) → ties to even → Inf 0x7c00
    expect(float32ToHalfBits(65520)).toBe(0x7c00);
    // smallest subnormal 2^-24 → 0x0001; 2^-25 is a tie with 0 → even → 0
    expect(float32ToHalfBits(2 ** -24)).toBe(0x0001);
    expect(float32ToHalfBits(2 ** -25)).toBe(0x0000);
    // 1 + 2^-11 is halfway between 1 and 1+2^-10 → even (1.0); 1 + 3·2^-11 → up to 1+2^-9 (0x3c02)
    expect(float32ToHalfBits(1 + 2 ** -11)).toBe(0x3c00);
    expect(float32ToHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(halfBitsToFloat(0x3555)).toBeCloseTo(0.33325195, 8); // (1 + 341/1024) / 4
  });

  it("rounds bfloat16 to nearest even", () => {
    // 1.0f = 0x3f800000 → 0x3f80; 1 + 2^-8 is a tie between 0x3f80 and 0x3f81 → even 0x3f80
    expect(float32ToBfloat16Bits(1)).toBe(0x3f80);
    expect(float32ToBfloat16Bits(1 + 2 ** -8)).toBe(0x3f80);
    expect(float32ToBfloat16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(bfloat16BitsToFloat(0xc040)).toBe(-3);
  });
});
