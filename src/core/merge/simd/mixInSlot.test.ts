import { f16BitsToFloat } from "../halfPrecision";
import { jsLayerwiseAccumulator, READ_SLOTS, type MixInput } from "../layerwiseAccumulator";
import { simdLayerwiseAccumulator } from "./simdLayerwiseAccumulator";

// The one-pass kernels (mixF16, mixF32) against the scalar accumulator: every input added in
// order with float32 arithmetic (Math.fround after each operation), then encoded by the scalar
// codec — an implementation of its own, checked against numpy in encodeFloats.test.ts.

function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => (x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0);
}

/** fp16 bit patterns: ordinary values, subnormals, ±0, the largest finite values, and Inf / NaN where asked. */
function halfBits(n: number, seed: number, withNonFinite: boolean): Uint16Array {
  const next = lcg(seed);
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const x = next();
    const sign = x & 0x8000;
    switch (i % 7) {
      case 0: out[i] = sign | (x % 0x400); break; // subnormal or zero
      case 1: out[i] = sign | (0x7800 + (x % 0x3ff)); break; // near the largest finite
      case 2: out[i] = sign; break; // ±0
      default: out[i] = sign | (x % 0x7c00); // any finite
    }
    if (withNonFinite && i % 997 === 5) out[i] = (x & 1) ? 0x7c00 | sign : 0x7e01;
  }
  return out;
}

function floatBits(n: number, seed: number, withNonFinite: boolean): Float32Array {
  const next = lcg(seed);
  const out = new Float32Array(n);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) {
    const x = next();
    bits[i] = i % 5 === 0 ? x & 0x807fffff : i % 5 === 1 ? (x & 0x80ffffff) | 0x7e000000 : (x & 0xbfffffff) | ((x & 1) << 29);
    if (!withNonFinite && (bits[i] & 0x7f800000) === 0x7f800000) bits[i] &= 0xbfffffff;
    if (withNonFinite && i % 991 === 3) bits[i] = 0x7f800000 | (x & 0x80400001);
  }
  return out;
}

describe("mixInSlot (one pass over every input of a chunk)", () => {
  const capacity = 70_000;
  const simd = simdLayerwiseAccumulator(capacity)!;
  const scalar = jsLayerwiseAccumulator(capacity);

  const cases: Array<{ dtype: "F16" | "F32"; weights: number[]; n: number; nonFinite: boolean }> = [
    { dtype: "F16", weights: [0.5, 0.25, 0.25], n: 65_536, nonFinite: false },
    { dtype: "F16", weights: [1 / 3, 1 / 3, 1 / 3, -0.1], n: 4099, nonFinite: false },
    { dtype: "F16", weights: [1.7, -2.9e-5], n: 9, nonFinite: false },
    { dtype: "F16", weights: [0.6, 0.4], n: 60_001, nonFinite: true },
    { dtype: "F16", weights: [40_000, 0.5], n: 1000, nonFinite: false }, // a weight beyond the fp16 kernel's 2^15: added one at a time
    { dtype: "F32", weights: [0.5, 0.25, 0.25], n: 65_536, nonFinite: false },
    { dtype: "F32", weights: [1e30, 1e30], n: 4096, nonFinite: false }, // overflow to Inf
    { dtype: "F32", weights: [0.9, 0.1, -3, 1e-40], n: 7, nonFinite: true },
  ];

  it.each(cases)("gives the scalar bits and flag: $dtype, weights $weights, $n elements, non-finite inputs: $nonFinite", ({ dtype, weights, n, nonFinite }) => {
    const width = dtype === "F16" ? 2 : 4;
    expect(weights.length).toBeLessThan(READ_SLOTS);
    const inputs: MixInput[] = weights.map((weight, i) => {
      const source = dtype === "F16" ? halfBits(n, 11 + i, nonFinite) : floatBits(n, 23 + i, nonFinite);
      const bytes = simd.readBuffer(i, n * width);
      bytes.set(new Uint8Array(source.buffer));
      return { bytes, dtype, weight };
    });
    simd.useSlot(3);
    const mixed = simd.mixInSlot(inputs, dtype);
    const got = mixed.bytes.slice();
    inputs.forEach((x, i) => scalar.add(x.bytes.slice(), dtype, x.weight, i === 0));
    const expected = scalar.finishInSlot(dtype);
    expect(mixed.nonFinite).toBe(expected.nonFinite);
    if (!expected.nonFinite) expect(Buffer.compare(Buffer.from(got), Buffer.from(expected.bytes))).toBe(0);
    if (dtype === "F16" && !nonFinite) {
      // A spot check by hand: element 3's float32 sum, rounded to fp16.
      const halves = inputs.map((x) => new Uint16Array(x.bytes.slice().buffer));
      let sum = 0;
      halves.forEach((h, i) => (sum = Math.fround(sum + Math.fround(Math.fround(weights[i]) * f16BitsToFloat(h[3])))));
      const out16 = new Uint16Array(got.buffer)[3];
      if (!expected.nonFinite) expect(Math.abs(f16BitsToFloat(out16) - sum)).toBeLessThanOrEqual(Math.abs(sum) * 2 ** -11 + 2 ** -25);
    }
  });

  it("reads inputs outside the read slots through the staging area, one at a time, with the same result", () => {
    const n = 5000;
    const a = halfBits(n, 5, false);
    const b = halfBits(n, 6, false);
    const inSlots: MixInput[] = [a, b].map((h, i) => {
      const bytes = simd.readBuffer(i, n * 2);
      bytes.set(new Uint8Array(h.buffer));
      return { bytes, dtype: "F16", weight: i === 0 ? 0.3 : 0.7 };
    });
    simd.useSlot(1);
    const fromSlots = simd.mixInSlot(inSlots, "F16").bytes.slice();
    const outside: MixInput[] = [a, b].map((h, i) => ({ bytes: new Uint8Array(h.buffer.slice(0)), dtype: "F16", weight: i === 0 ? 0.3 : 0.7 }));
    simd.useSlot(2);
    expect(Buffer.from(simd.mixInSlot(outside, "F16").bytes).equals(Buffer.from(fromSlots))).toBe(true);
  });
});
